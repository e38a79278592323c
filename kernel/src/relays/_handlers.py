"""The ``@handler`` decorator and the records the dispatcher keeps for each handler.

A decorated method carries a :class:`HandlerSpec` (what it listens to); when its
component joins a tree the spec is bound into one :class:`Handler` per event name.
Everything the hot path needs (is it async, does it take the event) is worked out
here, once, instead of on every call.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import attrs

from ._generators import is_generator_handler, starter
from ._threads import in_thread

if TYPE_CHECKING:
    from ._components import BaseComponent

__all__ = ["Handler", "HandlerSpec", "handler"]

F = TypeVar("F", bound=Callable[..., Any])

SPEC_ATTRIBUTE = "__relays_handler__"


@attrs.frozen
class HandlerSpec:
    """What a decorated method listens to. ``names`` empty means the method's name."""

    names: tuple[str, ...]
    channel: Any = None
    priority: int = 0
    enabled: bool = True
    thread: bool = False


def handler(
    *names: str | bool, channel: Any = None, priority: int = 0, thread: bool = False
) -> Callable[[F], F]:
    """Mark a method as the handler of events *names* (default: the method's name).

    ``channel`` overrides the component's channel for this handler and ``priority``
    orders handlers of one event (higher first). ``thread=True`` runs a plain (blocking)
    method in the tree's thread pool, with an async handler's event semantics (see
    :ref:`blocking-code`). ``@handler(False)`` keeps a public
    method of a :class:`~relays.Component` from becoming a handler. ``"*"`` as a name
    listens to every event, which is how the Debugger sees everything.
    """
    if names and names[0] is False:
        spec = HandlerSpec((), enabled=False)
    else:
        if not all(isinstance(name, str) for name in names):
            raise TypeError("handler names must be strings (or a single False to opt out)")
        spec = HandlerSpec(tuple(str(name) for name in names), channel, priority, thread=thread)

    def decorate(function: F) -> F:
        setattr(function, SPEC_ATTRIBUTE, spec)
        return function

    return decorate


def takes_event(function: Callable[..., Any]) -> bool:
    """A handler whose first parameter is named ``event`` receives the event object."""
    try:
        parameters = list(inspect.signature(function).parameters)
    except (TypeError, ValueError):
        return False
    return bool(parameters) and parameters[0] == "event"


class Handler:
    """One bound handler in a tree's dispatch table.

    ``name`` is the event it handles, ``channel`` its own channel (``None``: its
    component's), ``priority``, ``callback`` the bound method, ``owner`` the component,
    ``is_generator`` whether it is a generator handler (circuits' ``yield`` style, see
    :ref:`generator-handlers`). Read-only for users: :meth:`BaseComponent.handlers` lists them.
    """

    __slots__ = (
        "callback",
        "channel",
        "event_arg",
        "invoke",
        "is_async",
        "is_generator",
        "name",
        "owner",
        "priority",
        "seq",
        "task_name",
    )

    def __init__(
        self,
        name: str,
        channel: Any,
        priority: int,
        callback: Callable[..., Any],
        owner: BaseComponent,
        seq: int,
        thread: bool = False,
    ) -> None:
        if thread:  # to the dispatcher, an async handler (see relays._threads)
            callback = in_thread(callback, owner)
        self.name = name
        self.channel = channel
        self.priority = priority
        self.callback = callback
        self.owner = owner
        self.seq = seq
        # 0: never pass the event; 1: pass it when the event allows (``passes_event``);
        # 2: always (wildcard handlers must know what they got).
        self.event_arg = (2 if name == "*" else 1) if takes_event(callback) else 0
        self.is_async = inspect.iscoroutinefunction(callback)
        #: What the dispatcher calls: the callback itself, but for a generator handler
        #: (circuits' ``yield`` style), which runs as an async handler does
        #: (:mod:`relays._generators`) and so always needs its event.
        self.invoke = callback
        self.is_generator = is_generator_handler(callback)
        if self.is_generator:
            self.invoke = starter(callback, self.event_arg)
            self.event_arg = 2
            self.is_async = True
        #: The name of this handler's tasks (``Task.get_name()``), made once here: it says
        #: which handler a task runs (asyncio's default, ``Task-<n>``, says nothing), and
        #: a task given a name does not format one per task.
        self.task_name = f"relays handler {self.qualname}"

    @property
    def qualname(self) -> str:
        function = getattr(self.callback, "__func__", self.callback)
        return str(getattr(function, "__qualname__", repr(function)))

    def __repr__(self) -> str:
        channel = self.channel if self.channel is not None else self.owner.channel
        label = channel if isinstance(channel, str) else getattr(channel, "name", repr(channel))
        return (
            f"<handler {self.qualname} of {self.owner.name} on {self.name!r} "
            f"(channel={label!r}, priority={self.priority})>"
        )
