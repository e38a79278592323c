"""Events: named messages that travel on channels.

An event's *name* selects the handlers that run for it; its *channels* select which
components listen. The name comes from the class (``class RequestSuccess(Event)`` is
``"request_success"``) unless the class sets ``name`` itself, so a subclass is the
normal way to declare an event and ``Event.create`` covers the dynamic case.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:
    import asyncio

    from ._dispatch import Hub
    from ._handlers import Handler
    from ._values import Value

__all__ = [
    "Event",
    "EventCancelled",
    "ExceptionEvent",
    "PrepareUnregister",
    "Registered",
    "Signal",
    "Started",
    "Stopped",
    "Unregistered",
    "event_name",
]

_WORD_BOUNDARY = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")


def event_name(class_name: str) -> str:
    """Turn a class name into an event name: ``RequestSuccess`` -> ``request_success``.

    Runs of capitals stay one word, so ``HTTPError`` is ``http_error`` rather than
    ``h_t_t_p_error``.
    """
    return _WORD_BOUNDARY.sub("_", class_name).lower()


def _class_name(name: str) -> str:
    return "".join(part[:1].upper() + part[1:] for part in name.split("_")) or "Event"


class Event:
    """A message fired on one or more channels.

    Set ``success``, ``failure`` or ``complete`` (on the class or the instance) to have
    the kernel fire ``<name>_success(event, value)``, ``<name>_failure(event, error)``
    or ``<name>_complete(event, value)`` when this event is done; they go to the
    event's own channels unless ``success_channels``, ``failure_channels`` or
    ``complete_channels`` name others (a component counts as a channel: its handlers
    alone get it). ``priority`` orders the queue: a higher priority is dispatched
    first, equal priorities in firing order.
    """

    name: ClassVar[str] = "event"
    #: Channels used when ``fire`` is given none; empty means the firing component's.
    channels: tuple[Any, ...] = ()
    success: bool = False
    failure: bool = False
    complete: bool = False
    priority: int = 0
    #: Where ``<name>_success`` goes; empty: the event's own channels.
    success_channels: tuple[Any, ...] = ()
    #: Where ``<name>_failure`` goes; empty: the event's own channels.
    failure_channels: tuple[Any, ...] = ()
    #: Where ``<name>_complete`` goes; empty: the event's own channels.
    complete_channels: tuple[Any, ...] = ()
    #: Fire ``<name>_value_changed(value)`` on the event's channels when its value is
    #: done (a string: fire the event of that name instead), as circuits does.
    notify: bool | str = False
    #: True once :meth:`cancel` was called.
    cancelled: bool = False
    #: Whether a handler whose first parameter is ``event`` gets this event object.
    #: Off for ``<name>_success``/``_failure``/``_complete``, whose first argument
    #: already is the event they report on.
    passes_event: ClassVar[bool] = True
    #: Whether the kernel keeps the tasks of this event's async handlers (and the
    #: events they chain to), so that :meth:`cancel_handlers` can cancel them. Off by
    #: default: it costs a list per event. relays-http's ``request`` turns it on, to
    #: cancel the handlers of a request whose client went away.
    cancellable: ClassVar[bool] = False

    # Per-instance state the kernel fills in; declared here so reads are cheap.
    value: Value | None = None
    handler: Handler | None = None
    stopped: bool = False
    #: Handlers resolved ahead of time (the kernel uses it for ``unregistered``).
    _handlers: tuple[Handler, ...] | None = None
    _trackers: tuple[Event, ...] = ()
    _outstanding: int = 0
    #: For a ``complete`` tracker: the hub of the tree that counts it as open.
    _tracked_by: Hub | None = None
    _pending: int = 0
    #: For a cancellable event: its handlers' tasks, and the events it chained to.
    _running: list[tuple[asyncio.Task[Any], Handler]] | None = None
    _chained: list[Event] | None = None

    _created: ClassVar[dict[str, type[Event]]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "name" not in cls.__dict__:
            cls.name = event_name(cls.__name__)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.args = args
        self.kwargs = kwargs
        # The kernel reads these for every event; an instance's own attribute is found
        # several times faster than a class default (CPython caches only the former).
        self.stopped = False
        self._trackers = ()
        self._pending = 0
        self._handlers = None

    @classmethod
    def create(cls, name: str, *args: Any, **kwargs: Any) -> Event:
        """Make an event called *name* without declaring a class for it.

        A CamelCase *name* is treated like a class name (``"RequestSuccess"`` gives
        ``"request_success"``); any other name is used as it is. The generated class is
        cached, so two events made with the same name share a type.
        """
        event_class = cls._created.get(name)
        if event_class is None:
            is_class_like = name[:1].isupper()
            class_name = name if is_class_like else _class_name(name)
            namespace: dict[str, Any] = {} if is_class_like else {"name": name}
            namespace["__module__"] = __name__
            event_class = type(class_name, (Event,), namespace)
            cls._created[name] = event_class
        return event_class(*args, **kwargs)

    def stop(self) -> None:
        """End propagation: handlers after the current one do not run."""
        self.stopped = True

    def cancel_handlers(self, spare: Callable[[Event, Handler], bool] | None = None) -> int:
        """Cancel the tasks of this event's async handlers that still run, and those of
        the events they answered with (a handler that returned another event's value);
        return how many were cancelled.

        Only for event classes with :attr:`cancellable` set, this one and those it
        chained to (otherwise nothing was kept, and nothing is cancelled). *spare* is
        asked ``(event, handler)`` for each task, and a handler it says True for is left
        running.
        """
        cancelled = 0
        for task, handler in self._running or ():
            if not task.done() and (spare is None or not spare(self, handler)):
                task.cancel()
                cancelled += 1
        for chained in self._chained or ():
            cancelled += chained.cancel_handlers(spare)
        return cancelled

    def _keep_task(self, task: asyncio.Task[Any], handler: Handler) -> None:
        """The kernel started *handler*'s task for this cancellable event."""
        running = self._running
        if running is None:
            self._running = [(task, handler)]
        else:
            running.append((task, handler))

    def _keep_chained(self, event: Event) -> None:
        """A handler of this cancellable event answered with *event*'s value."""
        if self._chained is None:
            self._chained = [event]
        else:
            self._chained.append(event)

    def cancel(self) -> None:
        """Withdraw a fired event: if it is still queued, none of its handlers run.

        Its value then fails with :class:`EventCancelled` (``await`` raises it, a
        ``failure`` event follows if asked for), so whoever waits learns it will not
        happen. Once its handlers have started, it is :meth:`stop`: those after the
        current one do not run.
        """
        self.cancelled = True
        self.stopped = True
        self._handlers = ()  # dispatching it finds no handlers to run (see _dispatch)

    def child(self, suffix: str, *args: Any, **kwargs: Any) -> Event:
        """A new event named ``<name>_<suffix>`` with *args* and *kwargs*.

        For a component that answers one event with another derived from it
        (``request`` -> ``request_done``), as the kernel's ``<name>_success`` is.
        """
        return Event.create(f"{self.name}_{suffix}", *args, **kwargs)

    @property
    def done(self) -> bool:
        """True once every handler has finished (async ones included)."""
        return self.value is not None and self.value.done

    def __getitem__(self, index: int | str) -> Any:
        """``event[0]`` is the first positional argument, ``event["key"]`` a keyword one."""
        if isinstance(index, int):
            return self.args[index]
        return self.kwargs[index]

    def __repr__(self) -> str:
        channels = ",".join(_channel_label(channel) for channel in self.channels) or "-"
        args = ", ".join(repr(arg) for arg in self.args)
        kwargs = ", ".join(f"{key}={value!r}" for key, value in self.kwargs.items())
        return f"<{type(self).__name__}[{channels}:{self.name}] ({args}) {{{kwargs}}}>"


def _channel_label(channel: Any) -> str:
    if isinstance(channel, str):
        return channel
    return str(getattr(channel, "name", channel))


class Started(Event):
    """``started(component)``: the tree rooted at *component* began running."""


class Stopped(Event):
    """``stopped(component)``: the tree is about to stop; handlers may still clean up."""


class Registered(Event):
    """``registered(component, parent)``: *component* joined the tree under *parent*."""


class Unregistered(Event):
    """``unregistered(component, parent)``: *component* left the tree it had under *parent*.

    Its own handlers still run for this event, so a component can release resources.
    """


class PrepareUnregister(Event):
    """``prepare_unregister(event, component)``: *component* is about to leave its tree.

    Fired by :meth:`~relays.BaseComponent.unregister` when some handler in the tree
    listens for it, with ``complete`` tracking: the component leaves (and
    ``unregistered`` follows) once every handler of it, and every event those fired, has
    finished. A handler can so flush or say goodbye first. ``event.in_subtree(self)``
    says whether the handler's own component is among those leaving.
    """

    complete = True

    def in_subtree(self, component: Any) -> bool:
        """Whether *component* is the one leaving or below it."""
        leaving = self.args[0]
        node = component
        while node is not None:
            if node is leaving:
                return True
            node = node.parent
        return False


class EventCancelled(Exception):
    """The event was cancelled (:meth:`Event.cancel`) before its handlers ran."""

    def __init__(self, event: Event) -> None:
        super().__init__(f"{event!r} was cancelled before its handlers ran")
        self.event = event


class Signal(Event):
    """``signal(signo, stack)``: the process received *signo* (SIGINT, SIGTERM, ...)."""


class ExceptionEvent(Event):
    """``exception(error_type, error, traceback, handler=, fevent=)``: a handler raised.

    *traceback* is a list of formatted lines; *fevent* is the event whose handler
    failed. When nothing handles it, the kernel logs it once with its traceback.

    An exception class can opt out with a class attribute
    ``relays_exception_event = False``: raising it still fails the event's value (the
    caller sees the error), but it is an expected outcome, not a failure to report. A
    plugin's control-flow errors (HTTP's ``NotFound``, say) use this.
    """

    name = "exception"
