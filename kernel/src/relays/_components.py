"""Components: the nodes of an application tree, and where handlers live.

A component's handlers are found once per class, when the class is created: methods
decorated with ``@handler`` on a :class:`BaseComponent`, and on a :class:`Component`
also every public method (named after the event it handles). No metaclass is involved;
``__init_subclass__`` does the collecting, so what a class handles is plain to see with
``relays.inspect``.
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Awaitable, Callable, Iterator
from functools import partial
from threading import get_ident as _get_ident
from typing import Any, ClassVar, Literal, Self, overload

from . import _running
from ._dispatch import NOT_DELIVERED, Hub
from ._dispatch import deliver as _hub_deliver
from ._dispatch import deliver_task as _hub_deliver_task
from ._events import Event, PrepareUnregister, Registered, Unregistered
from ._handlers import SPEC_ATTRIBUTE, Handler, HandlerSpec
from ._threads import HANDLER_THREADS
from ._values import Value
from ._watchdog import BLOCKED_LOOP_THRESHOLD

__all__ = ["NOT_DELIVERED", "BaseComponent", "Component"]

_handler_seq = iter(range(1 << 62))


def _collect_handler_specs(cls: type[BaseComponent]) -> tuple[tuple[str, HandlerSpec], ...]:
    specs: dict[str, HandlerSpec] = {}
    for klass in reversed(cls.__mro__):
        if klass is object or klass.__module__ == __name__:
            continue  # BaseComponent and Component hold the API, not handlers
        for attribute, member in vars(klass).items():
            spec = getattr(member, SPEC_ATTRIBUTE, None) if callable(member) else None
            if attribute in _API and _would_hide_the_api(cls, member, spec):
                _refuse_api_name(cls, attribute, spec)
            if spec is not None:
                if spec.enabled:
                    specs[attribute] = spec
                else:
                    specs.pop(attribute, None)
            elif not _is_plain_function(member):
                specs.pop(attribute, None)
            elif attribute in specs:
                pass  # an override without a decorator keeps its base's spec
            elif (
                cls._implicit_handlers
                and not attribute.startswith("_")
                and attribute not in _RESERVED
            ):
                specs[attribute] = HandlerSpec(())
    return tuple(specs.items())


def _would_hide_the_api(cls: type[BaseComponent], member: Any, spec: HandlerSpec | None) -> bool:
    """Whether a method named like the component API means to be a handler: then it
    would replace the API method (``fire``, ``stop``...) and not be a handler either.
    ``@handler(False)`` says it deliberately overrides the API method (and calls
    ``super()``), as a plain override in a :class:`BaseComponent` does."""
    if spec is not None:
        return spec.enabled
    return cls._implicit_handlers and _is_plain_function(member)


def _refuse_api_name(cls: type, attribute: str, spec: HandlerSpec | None) -> None:
    names = spec.names if spec is not None and spec.names else (attribute,)
    raise TypeError(
        f"{cls.__qualname__}.{attribute} cannot be a handler: {attribute!r} is a method "
        f"of the component API, which it would replace. Name the method otherwise and "
        f"say which event it handles, e.g. '@handler({names[0]!r}) def on_{attribute}"
        f"(self, ...)'; or, to override the API method itself (calling super()), mark "
        f"it @handler(False)."
    )


def _is_plain_function(member: Any) -> bool:
    return callable(member) and not isinstance(member, (type, staticmethod, classmethod))


def _tree_handlers(
    component: BaseComponent, name: str | None = None, *channels: Any
) -> list[Handler]:
    """The handlers of this component's whole tree, for plugins that list them.

    With *name* and *channels*: exactly those an event *name* fired on *channels*
    would run, in order (``"*"`` handlers included). With *name* only: every
    handler registered for that name. With neither: all of them.
    """
    hub = component._hub
    if name is not None and channels:
        return list(hub.lookup(name, channels))
    return [h for h in hub.handlers if name is None or h.name == name]


def _class_handlers(cls: type[BaseComponent]) -> list[Callable[..., Any]]:
    """The handler methods of *cls* (functions, unbound), in definition order."""
    return [getattr(cls, attribute) for attribute, _spec in cls._handler_specs]


def _class_events(cls: type[BaseComponent]) -> list[str]:
    names = {name for attribute, spec in cls._handler_specs for name in spec.names or (attribute,)}
    return sorted(name for name in names if not name.startswith("_"))


def _class_handles(cls: type[BaseComponent], *names: str) -> bool:
    events = set(_class_events(cls))
    return all(name in events for name in names)


class _HandlersLookup:
    """``handlers()``: on a component, the :class:`~relays.Handler` records of its tree
    (``component.handlers(name, *channels)``); on a class, its handler methods
    (``Component.handlers()``, circuits' classmethod).

    One name for both, as circuits has it; which one is meant is plain from whether
    a class or a component is asked.
    """

    @overload
    def __get__(
        self, instance: None, owner: type[BaseComponent]
    ) -> Callable[[], list[Callable[..., Any]]]: ...
    @overload
    def __get__(
        self, instance: BaseComponent, owner: type[BaseComponent]
    ) -> Callable[..., list[Handler]]: ...
    def __get__(self, instance: BaseComponent | None, owner: type[BaseComponent]) -> Any:
        if instance is None:
            return partial(_class_handlers, owner)
        return partial(_tree_handlers, instance)


class BaseComponent:
    """A node of the component tree whose handlers are only ``@handler`` methods.

    ``channel`` (a class attribute, or the ``channel=`` argument) is the channel its
    handlers listen on and the one its ``fire`` uses by default; ``"*"`` listens to
    every channel.

    A component given as a class attribute (``debugger = Debugger()`` in the class
    body) is registered under each new instance, as in circuits. It is one object, so
    a second instance takes it over from the first: make children in ``__init__``
    when a class has several instances.
    """

    channel: Any = "*"
    #: Seconds a handler may hold the event loop before a warning names it (the root's
    #: setting counts; None turns it off; ``RELAYS_BLOCKED_LOOP_MS`` overrides it).
    blocked_loop_threshold: float | None = BLOCKED_LOOP_THRESHOLD
    #: Threads in the tree's pool for ``@handler(thread=True)`` handlers (the root's
    #: setting counts).
    handler_threads: int = HANDLER_THREADS
    #: ``(attribute, spec)`` for every handler method of the class.
    _handler_specs: ClassVar[tuple[tuple[str, HandlerSpec], ...]] = ()
    _implicit_handlers: ClassVar[bool] = False
    #: Class attributes that hold a component: each is registered under every new
    #: instance, as circuits does (``debugger = Debugger()`` in the class body).
    _child_attributes: ClassVar[tuple[str, ...]] = ()
    #: True between ``prepare_unregister`` and leaving (see :meth:`unregister`).
    unregister_pending: bool = False

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls._handler_specs = _collect_handler_specs(cls)
        cls._child_attributes = tuple(
            dict.fromkeys(
                attribute
                for klass in reversed(cls.__mro__)
                for attribute, member in vars(klass).items()
                if isinstance(member, BaseComponent)
            )
        )

    def __init__(self, *, channel: Any = None) -> None:
        if channel is not None:
            self.channel = channel
        self.name: str = type(self).__name__
        self.parent: BaseComponent | None = None
        self.components: list[BaseComponent] = []
        self._runner: _running.Runner | None = None
        self._hub = Hub(self)
        self._hub.add_handlers(self._bind_handlers())
        for attribute in type(self)._child_attributes:
            child = getattr(self, attribute)
            if isinstance(child, BaseComponent):
                child.register(self)

    def _bind_handlers(self) -> list[Handler]:
        bound = []
        for attribute, spec in type(self)._handler_specs:
            callback = getattr(self, attribute)
            for name in spec.names or (attribute,):
                bound.append(
                    Handler(
                        name,
                        spec.channel,
                        spec.priority,
                        callback,
                        self,
                        next(_handler_seq),
                        thread=spec.thread,
                    )
                )
        return bound

    # -- the tree --------------------------------------------------------------------

    @property
    def root(self) -> BaseComponent:
        """The top of the tree this component is in (itself when it has no parent)."""
        node = self
        while node.parent is not None:
            node = node.parent
        return node

    def walk(self) -> Iterator[BaseComponent]:
        """This component and everything below it, depth first, parents first."""
        yield self
        for child in self.components:
            yield from child.walk()

    def register(self, parent: BaseComponent) -> Self:
        """Attach this component (and its subtree) under *parent*; returns ``self``."""
        if not isinstance(parent, BaseComponent):
            raise TypeError(f"can only register to a component, not {parent!r}")
        if self.parent is parent:
            return self
        node: BaseComponent | None = parent
        while node is not None:
            if node is self:
                raise ValueError(f"registering {self!r} under {parent!r} would make a cycle")
            node = node.parent
        if self._runner is not None:
            raise RuntimeError(f"{self!r} is running on its own; stop it before registering it")
        if self.parent is not None:
            self.unregister()
        self.parent = parent
        parent.components.append(self)
        hub = parent._hub
        old_hub = self._hub
        for component in self.walk():
            component._hub = hub
        hub.adopt(old_hub)
        self.fire(Registered(self, parent), *_both_channels(self, parent))
        return self

    def unregister(self) -> Self:
        """Detach this component (and its subtree) from its parent; returns ``self``.

        The ``unregistered`` event is dispatched in the tree it left, and the leaving
        components' own handlers still see it. When the tree is running, this is its
        loop's thread, and a handler listens for ``prepare_unregister``, leaving takes
        two steps, as in circuits: :class:`~relays.PrepareUnregister` is fired first,
        and the component leaves once it and everything its handlers fired have
        finished (:attr:`unregister_pending` is true meanwhile). Otherwise it leaves at
        once.
        """
        parent = self.parent
        if parent is None or self.unregister_pending:
            return self
        hub = self._hub
        channels = _both_channels(self, parent)
        if hub.thread_id == _get_ident() and any(
            h.name == "prepare_unregister" for h in hub.lookup("prepare_unregister", channels)
        ):
            self._prepare_unregister(channels)
            return self
        return self._leave()

    def _prepare_unregister(self, channels: tuple[Any, ...]) -> None:
        """Fire ``prepare_unregister``, and leave once its cascade is complete."""
        self.unregister_pending = True
        hub = self._hub
        # Its ``_complete`` event goes to this component alone, so the waiter below
        # can only be woken by this component's cascade.
        preparing = PrepareUnregister(self)
        preparing.complete_channels = (self,)
        finished = hub.add_waiter("prepare_unregister_complete", (self,))
        finished.add_done_callback(self._prepared)
        hub.fire(preparing, channels)

    def _prepared(self, finished: asyncio.Future[Any]) -> None:
        self.unregister_pending = False
        if not finished.cancelled():
            self._leave()

    def _leave(self) -> Self:
        parent = self.parent
        if parent is None:
            return self
        hub = self._hub
        channels = _both_channels(self, parent)
        event = Unregistered(self, parent)
        event._handlers = hub.resolve(event.name, channels)
        parent.components.remove(self)
        self.parent = None
        leaving = set(self.walk())
        new_hub = Hub(self)
        new_hub.add_handlers(hub.remove_handlers(leaving))
        for component in leaving:
            component._hub = new_hub
        hub.fire(event, channels)
        return self

    def __add__(self, other: BaseComponent) -> Self:
        """``a + b`` registers *b* under *a* and gives *a*, so trees read as sums."""
        other.register(self)
        return self

    __iadd__ = __add__

    def __sub__(self, other: BaseComponent) -> Self:
        """``a - b`` unregisters *b*, which must be a child of *a*."""
        if other.parent is not self:
            raise ValueError(f"{other!r} is not registered under {self!r}")
        other.unregister()
        return self

    __isub__ = __sub__

    handlers = _HandlersLookup()

    #: ``Component.events()``: the names of the events the class has handlers for,
    #: sorted, leaving out names that start with ``_`` (circuits' classmethod).
    #: Typed ``Any`` because components may keep an attribute of their own called
    #: ``events`` (the Debugger's switch), which hides it on the instance.
    events: Any = classmethod(_class_events)
    #: ``Component.handles(*names)``: whether the class has handlers for every event
    #: in *names* (circuits' classmethod).
    handles: Any = classmethod(_class_handles)

    # -- the tree, as a container ----------------------------------------------------

    def __len__(self) -> int:
        """The number of events queued in this component's tree, as in circuits."""
        return self._hub.queued

    def __bool__(self) -> bool:
        # A component is never false, though ``len`` is 0 while nothing is queued.
        return True

    def __contains__(self, item: object) -> bool:
        """``x in component``: *x* is a child of this component, or a class one of its
        children is an instance of."""
        if isinstance(item, type):
            return any(isinstance(child, item) for child in self.components)
        return any(child is item for child in self.components)

    # -- events ----------------------------------------------------------------------

    def fire(self, event: Event, *channels: Any) -> Value:
        """Queue *event* on *channels* (default: the event's, else this component's).

        Returns the event's :class:`~relays.Value` at once. Safe from any thread.
        """
        hub = self._hub
        try:
            if not channels:
                channels = event.channels or (self.channel,)
            if (
                event.priority
                or event.stopped
                or event.complete
                or event._trackers
                or hub.open_trackers
                or hub.thread_id != _get_ident()
            ):
                return hub.fire(event, channels)
        except AttributeError:
            raise TypeError(f"fire() takes an Event, not {type(event).__name__}") from None
        # Hub.fire's common case (a plain event fired on the loop's thread), inlined: on
        # 3.11 the call to Hub.fire costs ~10% of a fire. The tests run both copies
        # (tests/kernel/test_dispatch.py, ``fire`` fixture).
        value = event.value = Value(event)
        event.channels = channels
        hub.queue.append(event)
        if not hub._flush_scheduled:
            hub._schedule_flush()
        return value

    #: Run what firing an event would run, now, without the event (see
    #: :func:`relays._dispatch.deliver`: the Hub's code, bound here with no call between).
    deliver = _hub_deliver

    #: Start what firing an event would start, now, without the event, when its one
    #: handler is ``async def``: its task (see :func:`relays._dispatch.deliver_task`).
    deliver_task = _hub_deliver_task

    def call(self, event: Event, *channels: Any, timeout: float | None = None) -> Awaitable[Any]:
        """Fire *event*; ``await`` the call for its result (or its handler's error).

        Raises :class:`TimeoutError` when it has not finished after *timeout* seconds.
        On an idle tree the handlers run before ``call`` returns (nothing could have
        been dispatched first), so a round trip costs no loop iteration.
        """
        if not isinstance(event, Event):
            raise TypeError(f"call() takes an Event, not {type(event).__name__}")
        if not channels:
            channels = event.channels or (self.channel,)
        value = self._hub.call_now(event, channels)
        if timeout is None or value.done:
            return value
        return _settle(value, timeout)

    async def wait(self, target: str | Event, *channels: Any, timeout: float | None = None) -> Any:
        """Wait for an event to finish and return its result.

        With a name, wait for the next event of that name on *channels* (any channel
        when none are given). With an event instance, wait for that one: it returns at
        once when the event has already finished.
        """
        if isinstance(target, Event):
            if target.value is None:
                raise ValueError(f"{target!r} has not been fired")
            return await _settle(target.value, timeout)
        future = self._hub.add_waiter(target, channels)
        try:
            return await asyncio.wait_for(future, timeout)
        except TimeoutError:
            raise TimeoutError(f"no {target!r} event finished within {timeout} s") from None

    # -- running (see _running.py) ---------------------------------------------------

    def run(self, *, use_uvloop: bool | None = None, freeze_gc: bool | None = None) -> None:
        """Run the tree until stopped; SIGINT and SIGTERM stop it gracefully.

        Once the ``started`` handlers have finished, the objects made so far are frozen
        out of the cycle collector's sight (``gc.freeze()``): full collections stop
        walking them. ``freeze_gc=False`` (or ``RELAYS_GC_FREEZE=0``) turns that off.
        """
        _running.run(self, use_uvloop=use_uvloop, freeze_gc=freeze_gc)

    async def run_async(self) -> None:
        """Run the tree inside the current asyncio program until :meth:`stop`.

        Unlike :meth:`run` it installs no signal handlers: signals belong to the host.
        """
        await _running.run_async(self)

    @overload
    def start(self, *, process: Literal[False] = False) -> threading.Thread: ...
    @overload
    def start(
        self, *, process: Literal[True], link: BaseComponent, **options: Any
    ) -> BaseComponent: ...
    def start(
        self, *, process: bool = False, link: BaseComponent | None = None, **options: Any
    ) -> threading.Thread | BaseComponent:
        """Run the tree in a background thread; returns once it is running.

        ``start(process=True, link=parent, **options)`` runs it in a child process
        instead, linked to *parent*'s tree (circuits' ``Bridge``), through the plugin
        that implements :func:`~relays.hookspecs.relays_start_process` (relays-bridge;
        a :class:`~relays.PluginNotFound` says what to install when none does). The
        child builds its own copy of this component; this instance stays here as the
        child's proxy: it joins *parent*'s tree without its handlers (they run in the
        child), what it fires goes into that tree, and :meth:`stop` stops the child and
        makes it a plain component again. Returns the plugin's link component, which
        *options* configure (see the plugin's docs).
        """
        if process:
            if link is None:
                raise TypeError(
                    "start(process=True) needs link=, the component of this process's "
                    "tree the child is linked to"
                )
            return _running.start_process(self, link, options)
        if link is not None:
            raise TypeError(
                "start(link=...) links a tree run in a child process: pass process=True "
                "too, or leave link out to run the tree in a thread of this process"
            )
        if options:
            raise TypeError(
                f"start() takes options {sorted(options)} only with process=True, for the "
                "plugin that runs the child process"
            )
        return _running.start(self)

    def stop(self, code: int | str | None = None, *, timeout: float | None = 10.0) -> None:
        """Ask the tree to stop. From another thread, waits for it up to *timeout* s.

        With a *code*, :meth:`run` ends the process with that exit status once the tree
        has stopped (it raises ``SystemExit(code)``, as ``sys.exit`` does), which is
        also what a handler raising ``SystemExit(code)`` does. Without one, ``run``
        returns.
        """
        _running.stop(self, timeout, code)

    async def __aenter__(self) -> Self:
        """Start the tree on the running loop; ``async with`` stops it on the way out.

        Signal handlers are left to the host program (only :meth:`run` installs them).
        """
        await _running.enter(self)
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        """Stop the tree and wait until ``stopped`` handlers have finished."""
        await _running.leave(self)

    @property
    def running(self) -> bool:
        """True while the tree this component belongs to is attached to a running loop."""
        return self.root._hub.loop is not None

    # -- presentation ----------------------------------------------------------------

    def __repr__(self) -> str:
        hub = self._hub
        owned = set(self.walk())
        handlers = [h for h in hub.handlers if h.owner in owned]
        channels = {h.channel if h.channel is not None else h.owner.channel for h in handlers}
        channel = self.channel if isinstance(self.channel, str) else repr(self.channel)
        state = "R" if hub.loop is not None else "S"
        queued = hub.queued if self.parent is None else 0
        thread = threading.current_thread().name
        return (
            f"<{self.name}/{channel} {os.getpid()}:{thread} "
            f"(queued={queued}, channels={len(channels)}, handlers={len(handlers)}) [{state}]>"
        )


class Component(BaseComponent):
    """A component whose public methods are all handlers, named after the method.

    ``@handler(False)`` keeps a public method out; ``@handler(...)`` still sets names,
    channel and priority explicitly. A public method named like the component API
    (``fire``, ``stop``, ``run``, ``register``...) would replace that API method, so the
    class is refused with a :class:`TypeError` that says how to rename it, unless it is
    marked ``@handler(False)`` (a deliberate override that calls ``super()``).
    """

    _implicit_handlers = True


async def _settle(value: Value, timeout: float | None) -> Any:
    if timeout is None or value.done:
        return await value
    try:
        return await asyncio.wait_for(value.future(), timeout)
    except TimeoutError:
        raise TimeoutError(f"{value.event!r} did not finish within {timeout} s") from None


def _both_channels(component: BaseComponent, parent: BaseComponent) -> tuple[Any, ...]:
    if component.channel == parent.channel:
        return (component.channel,)
    return (component.channel, parent.channel)


#: circuits' class-level listings; a component may still handle events of these names
#: (``def events(self)``), which then hides the listing on that class only.
_CLASS_LISTINGS = frozenset({"events", "handles"})
_RESERVED = frozenset(dir(Component)) - _CLASS_LISTINGS
#: The public names of the component API, methods and attributes, which no handler
#: method may take.
_API = frozenset(
    name for name in (*_RESERVED, "name", "parent", "components") if not name.startswith("_")
)
