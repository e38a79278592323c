"""The dispatcher a component tree shares: queue, handler table and event loop glue.

Theory of operation
-------------------
Every tree has one :class:`Hub`, owned by its root; registering a component moves its
handlers and queued events into the parent's hub, unregistering moves them out again.

``fire`` pushes ``(-priority, seq, event)`` onto a heap and, when the hub is attached
to a running loop, makes sure one ``_flush`` is scheduled with ``call_soon``. ``_flush``
pops events in priority order (equal priorities in firing order) and runs each event's
handlers to the end before the next event starts, for at most ``batch`` events, then
yields to the loop so I/O is never starved. Firing from another thread goes through
``call_soon_threadsafe``; nothing else here is touched off the loop's thread.

The handlers for ``(name, channels)`` are resolved once and cached; any change to the
handler table clears the cache. A handler matches when its name is the event's (or
``"*"``) and its channel is one of the event's channels, or either side is ``"*"``, or
the event was fired at the handler's component itself.

An ``async def`` handler becomes a task. So that ``event.stop()`` works in it and
handlers keep their order, dispatch of that event pauses until the task has run up to
its first ``await`` (its first step is already scheduled, so one ``call_soon`` later it
has). An event is *done* when all its handlers, tasks and chained values have
finished: ``_pending`` counts them, plus one for the dispatch itself.

``complete`` events: an event fired while a handler of event E runs (a contextvar says
which, and tasks inherit it) is E's child. Each event that asked for ``complete`` is a
*tracker*; its children inherit it and add to its ``_outstanding`` count until they
are done, so ``<name>_complete`` fires when the whole cascade has finished.
"""

from __future__ import annotations

import asyncio
import contextvars
import itertools
import logging
import threading
import traceback
from collections.abc import Coroutine, Iterable
from functools import partial
from heapq import heappop, heappush
from typing import TYPE_CHECKING, Any

from ._events import Event, ExceptionEvent, _class_name
from ._values import Value

if TYPE_CHECKING:
    from ._components import BaseComponent
    from ._handlers import Handler

__all__ = ["Hub", "current_event"]

logger = logging.getLogger("relays")

#: The event whose handler is running, in this context (tasks inherit it).
current_event: contextvars.ContextVar[Event | None] = contextvars.ContextVar(
    "relays_current_event", default=None
)

_NO_PARENT: Any = object()


class Hub:
    """Queue, handler table and loop binding of one component tree."""

    #: Events dispatched per loop iteration before yielding to I/O.
    batch = 512

    def __init__(self, root: BaseComponent) -> None:
        self.root = root
        self.queue: list[tuple[int, int, Event]] = []
        self.handlers: list[Handler] = []
        self.loop: asyncio.AbstractEventLoop | None = None
        self.thread_id: int | None = None
        self._seq = itertools.count()
        self._cache: dict[tuple[str, tuple[Any, ...]], tuple[Handler, ...]] = {}
        self._flush_scheduled = False
        self._paused = False
        self._tasks: set[asyncio.Task[Any]] = set()
        self._waiters: dict[str, list[tuple[tuple[Any, ...], asyncio.Future[Any]]]] = {}

    # -- handler table ---------------------------------------------------------------

    def add_handlers(self, handlers: Iterable[Handler]) -> None:
        self.handlers.extend(handlers)
        self._cache.clear()

    def remove_handlers(self, owners: set[BaseComponent]) -> list[Handler]:
        removed = [h for h in self.handlers if h.owner in owners]
        if removed:
            self.handlers = [h for h in self.handlers if h.owner not in owners]
            self._cache.clear()
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

    # -- firing ----------------------------------------------------------------------

    def fire(self, event: Event, channels: tuple[Any, ...], parent: Any = _NO_PARENT) -> Value:
        value = Value(event)
        event.value = value
        event.channels = channels
        event.stopped = False
        if parent is _NO_PARENT:
            parent = current_event.get()
        trackers = parent._trackers if parent is not None else ()
        for tracker in trackers:
            tracker._outstanding += 1
        if event.complete:
            event._outstanding = 1
            trackers = (*trackers, event)
        if trackers or event._trackers:
            event._trackers = trackers

        loop = self.loop
        if loop is None:
            self._push(event)
            if self.loop is not None:  # attached meanwhile, from another thread
                self.loop.call_soon_threadsafe(self._schedule_flush)
        elif threading.get_ident() == self.thread_id:
            self._push(event)
        else:
            loop.call_soon_threadsafe(self._push, event)
        return value

    def _push(self, event: Event) -> None:
        heappush(self.queue, (-event.priority, next(self._seq), event))
        if not self._flush_scheduled and self.loop is not None:
            self._flush_scheduled = True
            self.loop.call_soon(self._flush)

    def _schedule_flush(self) -> None:
        if not self._flush_scheduled and self.loop is not None:
            self._flush_scheduled = True
            self.loop.call_soon(self._flush)

    # -- dispatching -----------------------------------------------------------------

    def _flush(self) -> None:
        self._flush_scheduled = False
        if self._paused:
            return
        queue = self.queue
        cache = self._cache
        budget = self.batch
        while queue:
            event = heappop(queue)[2]
            handlers = event._handlers
            if handlers is None:
                key = (event.name, event.channels)
                handlers = cache.get(key)
                if handlers is None:
                    handlers = cache[key] = self.resolve(*key)
            if not handlers and type(event) is ExceptionEvent:
                _log_unhandled(event)
            event._pending = 1
            if self._run(event, handlers, 0):
                return  # paused until an async handler's first step has run
            budget -= 1
            if not budget:
                break
        if queue:
            self._schedule_flush()

    def _run(self, event: Event, handlers: tuple[Handler, ...], index: int) -> bool:
        """Run *handlers* from *index* on; True when paused for an async handler."""
        token = current_event.set(event)
        args = event.args
        kwargs = event.kwargs
        count = len(handlers)
        try:
            while index < count:
                h = handlers[index]
                index += 1
                event.handler = h
                try:
                    event_arg = h.event_arg
                    if event_arg and (event_arg == 2 or event.passes_event):
                        result = h.callback(event, *args, **kwargs)
                    else:
                        result = h.callback(*args, **kwargs)
                except Exception as error:
                    self._handler_failed(event, h, error)
                else:
                    if h.is_async:
                        self._spawn(event, h, result)
                        if index < count:
                            self._paused = True
                            self.loop.call_soon(self._resume, event, handlers, index)  # type: ignore[union-attr]
                            return True
                    elif result is not None:
                        self._take_result(event, result)
                if event.stopped:
                    break
        finally:
            current_event.reset(token)
        self._release(event)
        return False

    def _resume(self, event: Event, handlers: tuple[Handler, ...], index: int) -> None:
        self._paused = False
        if event.stopped:  # the async handler stopped it in its first step
            index = len(handlers)
        if not self._run(event, handlers, index):
            self._flush()

    def _spawn(self, event: Event, h: Handler, coroutine: Coroutine[Any, Any, Any]) -> None:
        event._pending += 1
        task = self.loop.create_task(coroutine)  # type: ignore[union-attr]
        self._tasks.add(task)
        task.add_done_callback(partial(self._task_done, event, h))

    def _task_done(self, event: Event, h: Handler, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if task.cancelled():
            event.value._fail(asyncio.CancelledError())  # type: ignore[union-attr]
        else:
            error = task.exception()
            if error is None:
                result = task.result()
                if result is not None:
                    self._take_result(event, result)
            elif isinstance(error, Exception):
                self._handler_failed(event, h, error)
            else:
                event.value._fail(error)  # type: ignore[union-attr]
        self._release(event)

    def _take_result(self, event: Event, result: Any) -> None:
        if type(result) is Value:
            # A handler returned another event's value: ours is that one's result.
            event._pending += 1
            result.add_done_callback(partial(self._chained_done, event))
        else:
            event.value._collect(result)  # type: ignore[union-attr]

    def _chained_done(self, event: Event, chained: Value) -> None:
        value: Value = event.value  # type: ignore[assignment]
        if chained.errors:
            value._fail(chained.result)
        elif chained.result is not None:
            value._collect(chained.result)
        self._release(event)

    def _handler_failed(self, event: Event, h: Handler, error: Exception) -> None:
        event.value._fail(error)  # type: ignore[union-attr]
        lines = traceback.format_exception(type(error), error, error.__traceback__)
        if type(event) is ExceptionEvent:
            # An exception handler failed: log it, never fire again (no feedback loop).
            logger.error("exception handler %r failed:\n%s", h, "".join(lines))
            return
        report = ExceptionEvent(type(error), error, lines, handler=h, fevent=event)
        self.fire(report, ("*",), parent=None)

    def _release(self, event: Event) -> None:
        event._pending -= 1
        if event._pending == 0:
            self._finished(event)

    def _finished(self, event: Event) -> None:
        value: Value = event.value  # type: ignore[assignment]
        value._finish()
        if self._waiters:
            self._notify_waiters(event)
        if value.errors:
            if event.failure:
                follow = _derived(f"{event.name}_failure", event, value.result)
                self.fire(follow, event.channels, parent=event)
        elif event.success:
            follow = _derived(f"{event.name}_success", event, value.result)
            self.fire(follow, event.channels, parent=event)
        for tracker in event._trackers:
            tracker._outstanding -= 1
            if tracker._outstanding == 0:
                result = tracker.value.result  # type: ignore[union-attr]
                done = _derived(f"{tracker.name}_complete", tracker, result)
                self.fire(done, tracker.channels, parent=None)

    # -- waiting ---------------------------------------------------------------------

    def add_waiter(self, name: str, channels: tuple[Any, ...]) -> asyncio.Future[Any]:
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._waiters.setdefault(name, []).append((channels, future))
        return future

    def _notify_waiters(self, event: Event) -> None:
        waiters = self._waiters.get(event.name)
        if not waiters:
            return
        keep = []
        value: Value = event.value  # type: ignore[assignment]
        for channels, future in waiters:
            if future.done():
                continue
            if channels and not _channels_meet(channels, event.channels):
                keep.append((channels, future))
            elif value.errors:
                future.set_exception(value.result)
            else:
                future.set_result(value.result)
        if keep:
            self._waiters[event.name] = keep
        else:
            del self._waiters[event.name]

    # -- loop binding ----------------------------------------------------------------

    def attach(self, loop: asyncio.AbstractEventLoop) -> None:
        if self.loop is not None:
            raise RuntimeError(f"{self.root!r} is already running")
        self.thread_id = threading.get_ident()
        self.loop = loop
        self._flush_scheduled = True
        loop.call_soon(self._flush)

    def detach(self) -> None:
        self.loop = None
        self.thread_id = None
        self._flush_scheduled = False
        self._paused = False

    async def cancel_tasks(self) -> None:
        """Cancel the handler tasks still running (the tree is stopping)."""
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)

    def adopt(self, other: Hub) -> None:
        """Take over another hub's handlers and queued events (on register)."""
        self.add_handlers(other.handlers)
        other.handlers = []
        while other.queue:
            self._push(heappop(other.queue)[2])

    @property
    def pending_tasks(self) -> int:
        return len(self._tasks)


_derived_classes: dict[str, type[Event]] = {}


def _derived(name: str, event: Event, outcome: Any) -> Event:
    """``<name>_success(event, value)`` and kin: a handler's ``event`` is *event*."""
    event_class = _derived_classes.get(name)
    if event_class is None:
        event_class = type(_class_name(name), (Event,), {"name": name})
        event_class.passes_event = False
        _derived_classes[name] = event_class
    return event_class(event, outcome)


def _channels_meet(wanted: tuple[Any, ...], fired: tuple[Any, ...]) -> bool:
    if "*" in wanted or "*" in fired:
        return True
    return any(channel in fired for channel in wanted)


def _log_unhandled(event: Event) -> None:
    error_type, error, lines = event.args[:3]
    handler = event.kwargs.get("handler")
    logger.error("unhandled %s in %r: %s\n%s", error_type.__name__, handler, error, "".join(lines))
