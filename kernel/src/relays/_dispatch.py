"""The dispatcher a component tree shares: queue, dispatch and event loop glue.

Theory of operation
-------------------
Every tree has one :class:`Hub`, owned by its root; registering a component moves its
handlers and queued events into the parent's hub, unregistering moves them out again.

Queue. Most events have priority 0: they go to a FIFO deque. Events with another
priority go to a heap keyed ``(-priority, seq)``. ``_flush`` takes from the heap while
its top outranks priority 0, else from the deque, else from what is left of the heap,
so events run in priority order and, within a priority, in firing order. It runs each
event's handlers to the end before the next event starts, for at most ``batch``
events, then yields to the loop so I/O is never starved.

Threads. ``fire`` on the loop's thread appends directly. From another thread it
appends to an inbox and wakes the loop once per burst (``call_soon_threadsafe`` is a
system call; one per event would make threads slow). Before the tree runs, events
just queue; ``attach`` schedules the first flush.

Handlers. Which handlers run for ``(name, channels)``, and the cached *plans* of
those that are all plain functions, come from :mod:`relays._table`.

Async handlers. An ``async def`` handler becomes a task. So that ``event.stop()``
works in it and handlers keep their order, dispatch of that event pauses until the
task has run up to its first ``await`` (its first step is already scheduled, so one
``call_soon`` later it has). An event is *done* when its handlers, tasks and chained
values have all finished: ``_pending`` counts them, plus one for the dispatch itself.

Parents. ``complete`` needs to know which event fired which. While a sync handler
runs, ``_current`` is its event; a handler task carries its event in the
``current_event`` contextvar (set in the task's own context copy). An event fired
meanwhile is that event's child. Each event that asked for ``complete`` is a
*tracker*: its children inherit it and count in its ``_outstanding`` until they are
done, so ``<name>_complete`` fires when the whole cascade has finished. While no
tracker is open anywhere (``tracking.active`` is 0, the common case), ``fire`` does
not look for the parent at all.

Lifetimes. An event and its value refer to each other. When an event finishes with
nobody else referring to it or to its value (reference counts say so), the link is
dropped and both are freed at once instead of by the cycle collector, which would
otherwise cost more per event than the dispatch did. Nobody can observe the
difference: whoever holds either object keeps both whole.

Calls. ``call`` on an idle tree (loop thread, nothing queued, nothing dispatching)
dispatches at once instead of waiting a loop iteration: no event could have come
first, so the order is the same, and a round trip costs a function call. Nothing is
scheduled for it either: a loop iteration is spent only if its handlers fire more.
"""

from __future__ import annotations

import asyncio
import contextvars
import itertools
import logging
import threading
import traceback
from collections import deque
from collections.abc import Coroutine
from functools import partial
from heapq import heappop, heappush
from typing import TYPE_CHECKING, Any

from ._events import Event, ExceptionEvent
from ._outcomes import derived, log_unhandled, notify_waiters, track, tracker_done, tracking
from ._table import HandlerTable
from ._values import ALONE, Value, refcount

if TYPE_CHECKING:
    from ._components import BaseComponent
    from ._handlers import Handler

__all__ = ["Hub", "current_event"]

logger = logging.getLogger("relays")

#: The event whose async handler is running, in that handler's task.
current_event: contextvars.ContextVar[Event | None] = contextvars.ContextVar(
    "relays_current_event", default=None
)

_NO_PARENT: Any = object()
#: What ``_dispatch`` returns when dispatch paused for an async handler's first step.
_PAUSED: Any = object()
_get_ident = threading.get_ident


class Hub(HandlerTable):
    """Queue, handler table and loop binding of one component tree."""

    #: Events dispatched per loop iteration before yielding to I/O.
    batch = 512

    def __init__(self, root: BaseComponent) -> None:
        self.root = root
        super().__init__()
        self.queue: deque[Event] = deque()
        self.loop: asyncio.AbstractEventLoop | None = None
        self.thread_id: int | None = None
        self._ranked: list[tuple[int, int, Event]] = []
        self._inbox: deque[Event] = deque()
        self._inbox_scheduled = False
        self._seq = itertools.count()
        self._flush_scheduled = False
        self._paused = False
        self._current: Event | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._waiters: dict[str, list[tuple[tuple[Any, ...], asyncio.Future[Any]]]] = {}

    @property
    def queued(self) -> int:
        """Events waiting to be dispatched."""
        return len(self.queue) + len(self._ranked) + len(self._inbox)

    @property
    def busy(self) -> bool:
        """True while events wait, a dispatch is paused, or handler tasks run."""
        return bool(self.queued or self._paused or self._tasks)

    # -- firing ----------------------------------------------------------------------

    def fire(self, event: Event, channels: tuple[Any, ...], parent: Any = _NO_PARENT) -> Value:
        try:
            if event.stopped:
                event.stopped = False
        except AttributeError:
            raise TypeError(f"fire() takes an Event, not {type(event).__name__}") from None
        value = event.value = Value(event)
        event.channels = channels
        if tracking.active or event.complete or event._trackers:
            if parent is _NO_PARENT:
                parent = self._current or current_event.get()
            track(event, parent)

        if self.thread_id == _get_ident():
            # _push, inlined: this is the path of nearly every event.
            if event.priority:
                heappush(self._ranked, (-event.priority, next(self._seq), event))
            else:
                self.queue.append(event)
            if not self._flush_scheduled:
                self._flush_scheduled = True
                self.loop.call_soon(self._flush)  # type: ignore[union-attr]
        elif self.loop is None:
            self._push(event)
            loop = self._attached_loop()
            if loop is not None:  # attached meanwhile, from another thread: wake it
                loop.call_soon_threadsafe(self._schedule_flush)
        else:
            # From another thread: append to the inbox, and wake the loop once a burst.
            self._inbox.append(event)
            if not self._inbox_scheduled:
                self._wake_from_thread()
        return value

    def _attached_loop(self) -> asyncio.AbstractEventLoop | None:
        return self.loop

    def _wake_from_thread(self) -> None:
        self._inbox_scheduled = True
        try:
            self.loop.call_soon_threadsafe(self._take_inbox)  # type: ignore[union-attr]
        except (AttributeError, RuntimeError):
            self._inbox_scheduled = False  # the loop stopped meanwhile; events wait

    def _take_inbox(self) -> None:
        self._inbox_scheduled = False  # cleared first: a later append wakes us again
        inbox = self._inbox
        popleft = inbox.popleft
        append = self.queue.append
        while inbox:
            event = popleft()
            if event.priority:
                heappush(self._ranked, (-event.priority, next(self._seq), event))
            else:
                append(event)
        self._schedule_flush()

    def _push(self, event: Event) -> None:
        if event.priority:
            heappush(self._ranked, (-event.priority, next(self._seq), event))
        else:
            self.queue.append(event)
        self._schedule_flush()

    def _schedule_flush(self) -> None:
        if not self._flush_scheduled and self.loop is not None:
            self._flush_scheduled = True
            self.loop.call_soon(self._flush)

    def call_now(self, event: Event, channels: tuple[Any, ...]) -> Value:
        """Fire *event* and, on an idle tree, dispatch it before returning.

        Idle means on the loop's thread with nothing queued, dispatching or paused:
        no event could come first, so running it now keeps the order, and no flush
        needs scheduling for it (a loop iteration saved per call).
        """
        if (
            self._current is None
            and not self._paused
            and not self.queue
            and not self._ranked
            and self.thread_id == _get_ident()
        ):
            if event.priority or event.complete or event._trackers or tracking.active:
                value = self.fire(event, channels)  # bookkeeping first; still dispatched now
            else:
                event.stopped = False
                value = event.value = Value(event)
                event.channels = channels
                self.queue.append(event)
            self._drain(1)
            return value
        return self.fire(event, channels)

    # -- dispatching -----------------------------------------------------------------

    def _flush(self) -> None:
        self._flush_scheduled = False
        if not self._paused and not self._drain(self.batch):
            self._schedule_flush()  # the batch is used up: go on after the loop's I/O

    def _drain(self, budget: int) -> bool:
        """Dispatch up to *budget* events; True when it stopped early (queue empty, or
        paused until an async handler's first step has run).

        The handlers of most events are all plain functions with a cached *plan*; those
        run inline here, which saves a call per event on the path of nearly all of them.
        """
        queue = self.queue
        popleft = queue.popleft
        ranked = self._ranked
        plans = self._plans
        for _ in range(budget):
            if ranked and (ranked[0][0] < 0 or not queue):
                event = heappop(ranked)[2]
            elif queue:
                event = popleft()
            else:
                return True  # (tested, not caught: an exception costs more than the test)
            plan = plans.get((event.name, event.channels)) if event._handlers is None else None
            if plan is None:
                plan = self._dispatch(event)
                if plan is None:
                    continue
                if plan is _PAUSED:
                    return True
            # Every handler is a plain function: no task can be pending afterwards, so
            # ``_pending`` only counts chained values not done yet (``_chain``).
            self._current = event
            args = event.args
            kwargs = event.kwargs
            value: Value = event.value  # type: ignore[assignment]
            try:
                for callback, event_arg, h in plan:
                    try:
                        if event_arg and (event_arg == 2 or event.passes_event):
                            result = callback(event, *args, **kwargs)
                        elif kwargs:
                            result = callback(*args, **kwargs)
                        else:
                            result = callback(*args)
                    except Exception as error:
                        self._handler_failed(event, h, error)
                    else:
                        if result is not None:
                            if type(result) is Value:
                                self._chain(event, result)
                            elif value._results is None:
                                value._results = [result]
                            else:
                                value._results.append(result)
                    if event.stopped:
                        break
            finally:
                self._current = None
            if event._pending:
                continue  # a chained value will finish it
            if value.errors or self._waiters or event.success or event._trackers:
                self._finished(event)
            elif value._callbacks is not None:
                value._finish()  # its done callbacks are all that _finished would do
            elif refcount(value) == ALONE and refcount(event) == ALONE:
                # Nobody but us can ever see either: drop the event -> value link, so
                # both are freed now rather than by the cycle collector later.
                event.value = None
                continue
            else:
                # Somebody may look: finish the value in place (nobody waits for it).
                results = value._results
                if results is not None:
                    value.result = results[0] if len(results) == 1 else results
                value.done = True
                continue
            if refcount(value) == ALONE and refcount(event) == ALONE:
                event.value = None  # its callbacks have run and kept neither: free both
        return False

    def _dispatch(self, event: Event) -> Any:
        """Dispatch an event with no cached plan; return its plan when one was just made
        (the caller runs it), ``_PAUSED`` when paused for an async handler, else None.
        """
        handlers = event._handlers
        if handlers is None:
            key = (event.name, event.channels)
            handlers = self._cache.get(key)
            if handlers is None:
                handlers = self.lookup(*key)
                plan = self._plans.get(key)
                if plan is not None:
                    return plan
        if not handlers:
            if type(event) is ExceptionEvent:
                log_unhandled(event)
            self._finished(event)
            return None
        event._pending = 1
        return _PAUSED if self._run(event, handlers, 0) else None

    def _run(self, event: Event, handlers: tuple[Handler, ...], index: int) -> bool:
        """Run *handlers* from *index* on; True when paused for an async handler."""
        self._current = event
        args = event.args
        kwargs = event.kwargs
        value: Value = event.value  # type: ignore[assignment]
        count = len(handlers)
        try:
            while index < count:
                h = handlers[index]
                index += 1
                try:
                    event_arg = h.event_arg
                    if event_arg and (event_arg == 2 or event.passes_event):
                        result = h.callback(event, *args, **kwargs)
                    elif kwargs:
                        result = h.callback(*args, **kwargs)
                    else:
                        result = h.callback(*args)
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
                        if type(result) is Value:
                            self._chain(event, result)
                        elif value._results is None:
                            value._results = [result]
                        else:
                            value._results.append(result)
                if event.stopped:
                    break
        finally:
            self._current = None
        event._pending -= 1
        if not event._pending:
            self._finished(event)
        return False

    def _resume(self, event: Event, handlers: tuple[Handler, ...], index: int) -> None:
        self._paused = False
        if event.stopped:  # the async handler stopped it in its first step
            index = len(handlers)
        if not self._run(event, handlers, index):
            self._flush()

    def _spawn(self, event: Event, h: Handler, coroutine: Coroutine[Any, Any, Any]) -> None:
        event._pending += 1
        drive = self._drive(event, h, coroutine)
        if event._trackers or current_event.get() is not None:
            # Events its handler fires are children that ``complete`` must count (or
            # the task would inherit another handler's event): say whose they are.
            context = contextvars.copy_context()
            context.run(current_event.set, event)
            task = self.loop.create_task(drive, context=context)  # type: ignore[union-attr]
        else:
            task = self.loop.create_task(drive)  # type: ignore[union-attr]
        self._tasks.add(task)

    async def _drive(self, event: Event, h: Handler, coroutine: Coroutine[Any, Any, Any]) -> None:
        """Run an async handler and account for it, inside its task: no done callback
        (and so no extra loop callback) per handler."""
        value: Value = event.value  # type: ignore[assignment]
        try:
            result = await coroutine
        except Exception as error:
            self._handler_failed(event, h, error)
        except BaseException as error:  # cancelled (the tree stops), or the process exits
            value._fail(error)
            raise
        else:
            if result is not None:
                if type(result) is Value:
                    self._chain(event, result)
                else:
                    value._collect(result)
        finally:
            self._tasks.discard(asyncio.current_task())
            self._release(event)
        if value.done and refcount(value) == ALONE and refcount(event) == ALONE:
            event.value = None  # nobody else can see either: free both now (see Lifetimes)

    def _chain(self, event: Event, chained: Value) -> None:
        """A handler returned another event's value: ours is that one's result."""
        if chained.done:
            event.value._adopt(chained)  # type: ignore[union-attr]
            return
        event._pending += 1
        chained.add_done_callback(partial(self._chained_done, event))

    def _chained_done(self, event: Event, chained: Value) -> None:
        event.value._adopt(chained)  # type: ignore[union-attr]
        self._release(event)

    def _handler_failed(self, event: Event, h: Handler, error: Exception) -> None:
        event.value._fail(error)  # type: ignore[union-attr]
        if not getattr(error, "relays_exception_event", True):
            return  # an expected outcome (an HTTP 404, say), not a failure to report
        lines = traceback.format_exception(type(error), error, error.__traceback__)
        if type(event) is ExceptionEvent:
            # An exception handler failed: log it, never fire again (no feedback loop).
            logger.error("exception handler %r failed:\n%s", h, "".join(lines))
            return
        report = ExceptionEvent(type(error), error, lines, handler=h, fevent=event)
        self.fire(report, ("*",), parent=None)

    def _release(self, event: Event) -> None:
        event._pending -= 1
        if not event._pending:
            self._finished(event)

    def _finished(self, event: Event) -> None:
        value: Value = event.value  # type: ignore[assignment]
        value._finish()
        if self._waiters:
            notify_waiters(self._waiters, event)
        if value.errors:
            if event.failure:
                follow = derived(f"{event.name}_failure", event, value.result)
                self.fire(follow, event.channels, parent=event)
        elif event.success:
            follow = derived(f"{event.name}_success", event, value.result)
            self.fire(follow, event.channels, parent=event)
        if event._trackers:
            for tracker in event._trackers:
                tracker._outstanding -= 1
                if tracker._outstanding == 0:
                    tracker_done()
                    result = tracker.value.result  # type: ignore[union-attr]
                    done = derived(f"{tracker.name}_complete", tracker, result)
                    self.fire(done, tracker.channels, parent=None)

    # -- waiting ---------------------------------------------------------------------

    def add_waiter(self, name: str, channels: tuple[Any, ...]) -> asyncio.Future[Any]:
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._waiters.setdefault(name, []).append((channels, future))
        return future

    # -- loop binding ----------------------------------------------------------------

    def attach(self, loop: asyncio.AbstractEventLoop) -> None:
        if self.loop is not None:
            raise RuntimeError(f"{self.root!r} is already running")
        self.thread_id = _get_ident()
        self.loop = loop
        self._take_inbox()
        self._flush_scheduled = True
        loop.call_soon(self._flush)

    def detach(self) -> None:
        self.loop = None
        self.thread_id = None
        self._flush_scheduled = False
        self._inbox_scheduled = False
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
        other._take_inbox()
        while other._ranked:
            self._push(heappop(other._ranked)[2])
        while other.queue:
            self._push(other.queue.popleft())
