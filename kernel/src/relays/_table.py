r"""The handler table of a component tree: which handlers run for an event, cached.

The handlers for ``(name, channels)`` are resolved once and cached; any change to the
table clears the cache. A handler matches when its name is the event's (or ``"*"``)
and its channel is one of the event's channels, or either side is ``"*"``, or the
event was fired at the handler's component itself. When the handlers found are all
A *plan* is cached beside them: the callables and how each takes its arguments, which
the dispatcher runs without looking at the handlers again (but for ``is_async`` when a
handler returned something). An event nobody handles gets an empty plan, except an
error report, which has to be logged.

For :meth:`~relays.BaseComponent.deliver`, the table also says, per event class and
channels, whether an event could be replaced by a plain call: it can when exactly one
handler would run and that handler is a plain function that does not take the event
(or when none would run), and the class asks for nothing that needs the event object
(``success``, ``failure``, ``complete``, a ``priority``). For
:meth:`~relays.BaseComponent.deliver_task` it says the same of one ``async def`` handler,
whose task can then stand in for the event.

The four caches are :class:`~relays.BoundedCache`\ s of :data:`LOOKUP_CACHE_SIZE`
entries: their keys hold the event's channels, which an application may make per
connection or per request, so without a bound a long-running tree would keep every
channel it ever fired on.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from ._caches import BoundedCache

if TYPE_CHECKING:
    from ._components import BaseComponent
    from ._events import Event
    from ._handlers import Handler

__all__ = ["LOOKUP_CACHE_SIZE", "NOBODY", "HandlerTable", "Plan", "plan_of"]

#: What :meth:`HandlerTable.sole` says when no handler would run at all.
NOBODY: Any = object()

#: What the dispatcher calls for each handler: (callback, how it takes the event, handler).
Plan = tuple[tuple[Any, int, "Handler"], ...]

#: What the handlers of an event depend on: its name and its channels.
_Route = tuple[str, tuple[Any, ...]]

#: Entries in each of a table's caches: distinct (event name, channels) pairs a tree
#: fires on. Far more than an application's handlers make; past it, the cache is
#: emptied and refilled as events come (see :class:`~relays.BoundedCache`).
LOOKUP_CACHE_SIZE = 4096


def plan_of(handlers: tuple[Handler, ...]) -> Plan:
    """What the dispatcher calls for *handlers*, in order."""
    return tuple((h.invoke, h.event_arg, h) for h in handlers)


class HandlerTable:
    """Every handler of a tree, and the cache of who handles what."""

    def __init__(self) -> None:
        self.handlers: list[Handler] = []
        self._cache: BoundedCache[_Route, tuple[Handler, ...]] = BoundedCache(
            LOOKUP_CACHE_SIZE, "handlers by (name, channels)"
        )
        #: For cached entries: what to call (see :data:`Plan`).
        self._plans: BoundedCache[_Route, Plan] = BoundedCache(
            LOOKUP_CACHE_SIZE, "plans by (name, channels)"
        )
        #: :meth:`sole`, cached: the handler, NOBODY or None per (event class, channels).
        self._sole: BoundedCache[tuple[type[Event], tuple[Any, ...]], Any] = BoundedCache(
            LOOKUP_CACHE_SIZE, "sole handler by (event class, channels)"
        )
        #: :meth:`sole_task`, cached, as :attr:`_sole` is.
        self._sole_tasks: BoundedCache[tuple[type[Event], tuple[Any, ...]], Any] = BoundedCache(
            LOOKUP_CACHE_SIZE, "sole async handler by (event class, channels)"
        )

    def add_handlers(self, handlers: Iterable[Handler]) -> None:
        self.handlers.extend(handlers)
        self._forget()

    def _forget(self) -> None:
        self._cache.clear()
        self._plans.clear()
        self._sole.clear()
        self._sole_tasks.clear()

    def remove_handlers(self, owners: set[BaseComponent]) -> list[Handler]:
        removed = [h for h in self.handlers if h.owner in owners]
        if removed:
            self.handlers = [h for h in self.handlers if h.owner not in owners]
            self._forget()
        return removed

    def resolve(self, name: str, channels: tuple[Any, ...]) -> tuple[Handler, ...]:
        """The handlers for *name* on *channels*, in the order they run."""
        everywhere = "*" in channels
        matched = []
        for h in self.handlers:
            if h.name != name and h.name != "*":
                continue
            channel = h.channel if h.channel is not None else h.owner.channel
            if everywhere or channel == "*" or channel in channels or h.owner in channels:
                matched.append(h)
        matched.sort(key=lambda h: (-h.priority, h.seq))
        return tuple(matched)

    def lookup(self, name: str, channels: tuple[Any, ...]) -> tuple[Handler, ...]:
        """:meth:`resolve`, cached (and the plan made) until the handler table changes."""
        key = (name, channels)
        handlers = self._cache.get(key)
        if handlers is None:
            handlers = self._cache.remember(key, self.resolve(name, channels))
            # An event nobody handles gets an empty plan too (finishing it is all
            # there is to do), except an error report: that one is logged.
            if handlers or name != "exception":
                self._plans.remember(key, plan_of(handlers))
        return handlers

    def sole(self, kind: type[Event], channels: tuple[Any, ...]) -> Any:
        """The one handler a *kind* event on *channels* would run, when calling it could
        stand in for the event (see the module's docstring); :data:`NOBODY` when none
        would run; else None. Cached until the handler table changes.
        """
        return self._sole_of(kind, channels, self._sole, is_async=False)

    def sole_task(self, kind: type[Event], channels: tuple[Any, ...]) -> Any:
        """:meth:`sole` for :meth:`~relays.BaseComponent.deliver_task`: the one handler
        a *kind* event on *channels* would run when it is an ``async def`` handler that
        does not take the event (its task can stand in for the event); :data:`NOBODY`
        when none would run; else None. Cached until the handler table changes.
        """
        return self._sole_of(kind, channels, self._sole_tasks, is_async=True)

    def _sole_of(
        self,
        kind: type[Event],
        channels: tuple[Any, ...],
        cache: BoundedCache[tuple[type[Event], tuple[Any, ...]], Any],
        is_async: bool,
    ) -> Any:
        """:meth:`sole` (plain handlers) or :meth:`sole_task` (``async def`` ones): one
        rule, each answer kept in its own *cache*."""
        key = (kind, channels)
        known = cache.get(key, self)
        if known is not self:  # (None is an answer: the table itself means unknown)
            return known
        handlers = self.lookup(kind.name, channels)
        if kind.success or kind.failure or kind.complete or kind.priority:
            found = None  # the event object itself is needed afterwards
        elif not handlers:
            found = None if kind.name == "exception" else NOBODY
        elif len(handlers) == 1 and handlers[0].is_async == is_async and not handlers[0].event_arg:
            found = handlers[0]
        else:
            found = None
        return cache.remember(key, found)
