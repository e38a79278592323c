"""The dispatcher a component tree shares: queue, handler calls and event loop glue.

Theory of operation
-------------------
Ownership. Every tree has one :class:`Hub`, owned by its root; registering a component
moves its handlers, queued events and open ``complete`` trackers into the parent's hub,
unregistering moves its handlers out again. The hub owns every piece of dispatch state
(queues, the handler table it inherits from :class:`~relays._table.HandlerTable`, the
event being dispatched, handler tasks, waiters, open trackers); components ask it
through its methods (``fire``, ``call_now``, ``deliver``, ``add_waiter``).
:meth:`BaseComponent.fire` and ``call_now`` inline ``fire``'s common case (a plain
event on the loop's thread) for speed and say so; the tests run every copy.

Queue. Most events have priority 0: they go to a FIFO deque. Events with another
priority go to a heap keyed ``(-priority, seq)``. ``_drain`` takes from the heap while
its top outranks priority 0, else from the deque, else from what is left of the heap,
so events run in priority order and, within a priority, in firing order. It runs each
event's handlers to the end before the next event starts, for at most ``batch``
events, then yields to the loop so I/O is never starved.

Loop turns. ``fire`` on the loop's thread appends and schedules one flush per burst:
handlers run on a later loop turn, never inside ``fire``. A flush dispatches up to
``batch`` events; what their handlers fire joins the queue and usually runs in the
same flush. Two shortcuts run handlers at once, only where the order cannot differ:
``call`` on an idle tree (nothing queued or dispatching: no event could come first)
and ``deliver`` (``deliver_task`` for an async handler: its task, started at once).
From another thread ``fire`` appends to an inbox and wakes the loop
once per burst (``call_soon_threadsafe`` is a system call; one per event would make
threads slow). Before the tree runs, events just queue; ``attach`` schedules the
first flush.

Handlers. Which handlers run for ``(name, channels)``, and the cached *plan* of what
to call, come from :mod:`relays._table`. ``_drain`` is the one loop that calls them.

Async handlers. An ``async def`` handler becomes a real asyncio task (so
``current_task()``, timeouts, task groups and cancellation work in it). On Python
3.12+ the task starts eagerly (``eager_start=True``): its first step, up to its first
real suspension, runs inside the dispatch, right in the handler's turn. So an
``event.stop()`` before the first ``await`` stops the handlers after it at once, and a
handler that finishes without suspending schedules nothing at all. On 3.11 a task's
first step can only run on a later loop turn, so that ``event.stop()`` works there too
and handlers keep their order, dispatch of that event pauses until the task has run
its first step (one ``call_soon`` later it has), then goes on with the handlers after
it before any other event. (Driving the first step inside the dispatch instead, with
``coroutine.send(None)``, was measured on 3.11 and turned down: ``current_task()`` and
``asyncio.timeout()`` cannot work in that step with public asyncio, and it was no
faster; the design page's "Python 3.11" section has the figures.) The task is an
``asyncio.Task`` made here on every Python, not through ``loop.create_task``, so a task
factory set on the loop does not make handler tasks (one would decide whether a task
starts eagerly, which the dispatch must know).

An event is *done* when its handlers, tasks and chained values have all finished:
``_pending`` counts the tasks and chained values not done yet (and a paused dispatch);
the last to end finishes the event.

Parents. ``complete`` needs to know which event fired which. While a sync handler
runs, ``_current`` is its event; a handler task carries its event in the
``current_event`` contextvar (set in the task's own context copy). An event fired
meanwhile is that event's child. Each event that asked for ``complete`` is a
*tracker*: its children inherit it and count in its ``_outstanding`` until they are
done, so ``<name>_complete`` fires when the whole cascade has finished. The hub counts
the trackers opened in its tree (``open_trackers``); while there are none (the common
case) ``fire`` does not look for the parent at all. The count is the tree's own, so a
tracker left open in one tree (fired on a tree that never runs, say) costs no other
tree anything. A cascade is counted within its tree: an event a handler fires into
another tree is not part of it.

Lifetimes. An event and its value refer to each other; when an event finishes with
nobody else referring to it or to its value, the link is dropped so both are freed at
once rather than by the cycle collector (:mod:`relays._lifetimes` says how and why).
"""

from __future__ import annotations

import asyncio
import contextvars
import itertools
import logging
import sys
import threading
import traceback
from collections import deque
from collections.abc import Coroutine
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from heapq import heappop, heappush
from typing import TYPE_CHECKING, Any

from ._events import Event, EventCancelled, ExceptionEvent
from ._lifetimes import ALONE, refcount
from ._outcomes import derived, log_unhandled, notify_waiters, value_changed
from ._table import NOBODY, HandlerTable, Plan, plan_of
from ._values import Value

if TYPE_CHECKING:
    from ._components import BaseComponent
    from ._handlers import Handler

__all__ = ["EAGER_TASKS", "NOT_DELIVERED", "Hub", "current_event", "deliver", "deliver_task"]

logger = logging.getLogger("relays")

#: The event whose async handler is running, in that handler's task.
current_event: contextvars.ContextVar[Event | None] = contextvars.ContextVar(
    "relays_current_event", default=None
)

#: What :func:`deliver` returns when the event must be fired instead.
NOT_DELIVERED: Any = type("NotDelivered", (), {"__repr__": lambda self: "NOT_DELIVERED"})()

#: Whether handler tasks start eagerly (``Task(..., eager_start=True)``, Python 3.12+):
#: their first step runs inside the dispatch, so no dispatch ever pauses for one.
EAGER_TASKS = sys.version_info >= (3, 12)

_NO_PARENT: Any = object()
#: The heap key of an event whose paused dispatch goes on: before any other.
_FIRST = float("-inf")
_UNKNOWN: Any = object()
#: The current event while a delivered handler runs: a plain event with no trackers,
#: which is what the event it stands for would have been. Never changed.
_DELIVERING = Event()
_get_ident = threading.get_ident


class Hub(HandlerTable):
    """Queue, handler table, dispatch and loop binding of one component tree.

    The one owner of the tree's dispatch state; components call its methods.
    """

    #: Events dispatched per loop iteration before yielding to I/O.
    batch = 512

    def __init__(self, root: BaseComponent) -> None:
        self.root = root
        super().__init__()
        self.queue: deque[Event] = deque()
        self.loop: asyncio.AbstractEventLoop | None = None
        self.thread_id: int | None = None
        #: ``complete`` trackers fired in this tree whose cascade has not finished.
        self.open_trackers = 0
        #: The hub that took this one's handlers and events over (``adopt``).
        self._merged_into: Hub | None = None
        self._ranked: list[tuple[float, int, Event]] = []
        self._inbox: deque[Event] = deque()
        self._inbox_scheduled = False
        self._seq = itertools.count()
        self._flush_scheduled = False
        self._paused = False
        self._current: Event | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._thread_pool: ThreadPoolExecutor | None = None
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
        """Queue *event* on *channels*; return its value. Safe from any thread.

        The path of every fired event. *parent* is the event that caused this one, when
        the caller knows (derived events); otherwise it is found, if a tracker is open.
        """
        try:
            if event.stopped:
                event.stopped = False
        except AttributeError:
            raise TypeError(f"fire() takes an Event, not {type(event).__name__}") from None
        value = event.value = Value(event)
        event.channels = channels
        if self.open_trackers or event.complete or event._trackers:
            self._track(event, parent)
        if self.thread_id == _get_ident():
            if event.priority:
                self._rank(event)
            else:
                self.queue.append(event)
            if not self._flush_scheduled:
                self._schedule_flush()
        elif self.loop is not None:
            # From another thread: append to the inbox, and wake the loop once a burst
            # (``call_soon_threadsafe`` is a system call; one per event would make
            # threads slow).
            self._inbox.append(event)
            if not self._inbox_scheduled:
                self._wake()
        else:
            self._fire_before_running(event)
        return value

    def _wake(self) -> None:
        """Have the loop take the inbox in (from another thread)."""
        self._inbox_scheduled = True
        try:
            self.loop.call_soon_threadsafe(self._take_inbox)  # type: ignore[union-attr]
        except (AttributeError, RuntimeError):
            self._inbox_scheduled = False  # the loop stopped meanwhile; events wait

    def _fire_before_running(self, event: Event) -> None:
        """``fire`` before the tree runs: the event just queues."""
        self._enqueue(event)  # ``attach`` schedules the first flush
        loop = self._attached_loop()
        if loop is not None:  # attached meanwhile, from another thread: wake it
            loop.call_soon_threadsafe(self._schedule_flush)

    def _attached_loop(self) -> asyncio.AbstractEventLoop | None:
        return self.loop  # read again: another thread may have attached meanwhile

    def _enqueue(self, event: Event) -> None:
        if event.priority:
            self._rank(event)
        else:
            self.queue.append(event)

    def _rank(self, event: Event) -> None:
        heappush(self._ranked, (-event.priority, next(self._seq), event))

    def _take_inbox(self) -> None:
        self._inbox_scheduled = False  # cleared first: a later append wakes us again
        inbox = self._inbox
        queue = self.queue
        while inbox:  # (``_enqueue``, inlined: a call per event costs ~4% here)
            event = inbox.popleft()
            if event.priority:
                self._rank(event)
            else:
                queue.append(event)
        self._schedule_flush()

    def _schedule_flush(self) -> None:
        if not self._flush_scheduled and self.loop is not None:
            self._flush_scheduled = True
            self.loop.call_soon(self._flush)

    def call_now(self, event: Event, channels: tuple[Any, ...]) -> Value:
        """Fire *event* and, on an idle tree, dispatch it before returning.

        Idle means on the loop's thread with nothing queued, dispatching or paused: no
        event could come first, so running it now keeps the order, and no flush needs
        scheduling for it (a loop iteration saved per call).
        """
        if (
            self._current is not None
            or self._paused
            or self.queue
            or self._ranked
            or self.thread_id != _get_ident()
        ):
            return self.fire(event, channels)
        if (
            event.priority
            or event.stopped
            or event.complete
            or event._trackers
            or self.open_trackers
        ):
            scheduled = self._flush_scheduled
            self._flush_scheduled = True  # dispatched right here, not by a flush
            try:
                value = self.fire(event, channels)
            finally:
                self._flush_scheduled = scheduled
        else:
            # ``fire``'s common case (a plain event; we are on the loop's thread and it
            # is dispatched below, so no flush), inlined: the call to ``fire`` was 3% of
            # a ``call()`` round trip on 3.11. tests/kernel/test_hub.py runs both copies.
            value = event.value = Value(event)
            event.channels = channels
            self.queue.append(event)
        self._drain(1)
        return value

    # -- ``complete`` trackers -------------------------------------------------------

    def _track(self, event: Event, parent: Any) -> None:
        """Count *event* in every ``complete`` tracker above it (and in its own)."""
        if parent is _NO_PARENT:
            parent = self._current or current_event.get()
        trackers = parent._trackers if parent is not None else ()
        for tracker in trackers:
            tracker._outstanding += 1
        if event.complete:
            event._outstanding = 1
            event._tracked_by = self
            self.open_trackers += 1
            trackers = (*trackers, event)
        event._trackers = trackers

    @staticmethod
    def _tracker_closed(tracker: Event) -> None:
        """*tracker*'s cascade has finished: the tree that opened it counts one less."""
        hub = tracker._tracked_by
        while hub is not None and hub._merged_into is not None:
            hub = hub._merged_into  # its tree joined another since
        if hub is not None:
            hub.open_trackers -= 1
        tracker._tracked_by = None

    # -- dispatching -----------------------------------------------------------------

    def _flush(self) -> None:
        self._flush_scheduled = False
        if self.loop is None:
            return  # detached since this was scheduled: the queue waits for the next attach
        if not self._paused and not self._drain(self.batch):
            self._schedule_flush()  # the batch is used up: go on after the loop's I/O

    def _drain(self, budget: int) -> bool:
        """Dispatch up to *budget* events in queue order; True when it stopped early (the
        queue is empty, or dispatch paused for an async handler's first step).

        The one loop that calls handlers. For each event: take the next one, call its
        plan's handlers in order until one stops it, then finish it, unless a handler
        task or a chained value is still running: ``event._pending`` counts those (and a
        paused dispatch, see :meth:`_pause`); the last of them to end finishes it.
        """
        queue = self.queue
        ranked = self._ranked
        plan_for = self._plans.get  # (taken once: a BoundedCache's get is its dict's)
        for _ in range(budget):
            # The heap's top while it outranks priority 0, else the FIFO, else the heap.
            if ranked and (ranked[0][0] < 0 or not queue):
                event = heappop(ranked)[2]
            elif queue:
                event = queue.popleft()
            else:
                return True  # (tested, not caught: an exception costs more than the test)
            plan = plan_for((event.name, event.channels)) if event._handlers is None else None
            if plan is None:
                plan = self._plan(event)
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
                    except SystemExit as request:
                        h.owner.stop(request.code)  # as circuits: stop, with that exit code
                    else:
                        # (An async handler's result is its coroutine, never None: the
                        # common plain handler returning None pays for one test only.)
                        if result is not None:
                            if type(result) is Value:
                                self._chain(event, result)
                            elif h.is_async:
                                if self._spawn(event, h, result) and h is not plan[-1][2]:
                                    self._pause(event, plan, h)
                                    return True
                            elif value._results is None:
                                value._results = [result]
                            else:
                                value._results.append(result)
                    if event.stopped:
                        break
            finally:
                self._current = None
            if event._pending:
                continue  # a handler task or a chained value will finish it
            if value.errors or self._waiters or event.success or event._trackers or event.notify:
                self._finished(event)
            else:
                # The common cases: nothing follows the event, and nobody or only its
                # value's callbacks wait (``call``, and relays-http's request answered).
                # ``_finished`` and ``Value._finish``, inlined: measured again on 3.11,
                # without it the events.py rows take 7.5% (drain) and 9.3% (chain) more
                # instructions per event (test_dispatch runs both copies).
                results = value._results
                if results is not None:
                    value.result = results[0] if len(results) == 1 else results
                value.done = True
                callbacks = value._callbacks
                if callbacks is not None:
                    value._callbacks = None
                    for callback in callbacks:
                        callback(value)
            if refcount(value) == ALONE and refcount(event) == ALONE:
                # Nobody but us can ever see either: drop the event -> value link, so
                # both are freed now rather than by the cycle collector (_lifetimes).
                event.value = None
        return False

    def _plan(self, event: Event) -> Plan:
        """The plan of an event that has none cached: its handlers were resolved ahead
        of time (``unregistered``, a resumed dispatch), or it is an error report nobody
        handles (never cached: it is logged here)."""
        handlers = event._handlers
        if handlers is not None:
            event._handlers = None  # used once
            if event.cancelled and not handlers:  # cancelled while queued
                event.value._fail(EventCancelled(event))  # type: ignore[union-attr]
        else:
            key = (event.name, event.channels)
            handlers = self.lookup(*key)
            if handlers or type(event) is not ExceptionEvent:
                # (Its handlers may have outlived its plan in the bounded caches.)
                return self._plans.get(key) or self._plans.remember(key, plan_of(handlers))
            if not self._failure_heard(event):
                log_unhandled(event)
        return plan_of(handlers)

    def _failure_heard(self, report: Event) -> bool:
        """True when the failed event asked for ``<name>_failure`` and somebody handles it:
        the error is reported there (a Worker's ``task_failure``, say), so it is not also
        logged as unhandled."""
        failed = report.kwargs.get("fevent")
        if failed is None or not failed.failure:
            return False
        channels = failed.failure_channels or failed.channels
        return bool(self.lookup(f"{failed.name}_failure", channels))

    def _pause(self, event: Event, plan: Plan, h: Handler) -> None:
        """Hold the queue until *h*'s task has run its first step, then go on with the
        handlers after *h* (without eager tasks: see the module's docstring)."""
        rest = tuple(entry[2] for entry in plan)
        rest = rest[rest.index(h) + 1 :]
        event._pending += 1  # so that the task ending in its first step cannot finish it
        self._paused = True
        self.loop.call_soon(self._resume, event, rest)  # type: ignore[union-attr]

    def _resume(self, event: Event, rest: tuple[Handler, ...]) -> None:
        """Dispatch the rest of a paused event's handlers, before anything queued."""
        self._paused = False
        event._pending -= 1
        event._handlers = () if event.stopped else rest  # stopped in the first step?
        heappush(self._ranked, (_FIRST, next(self._seq), event))
        self._flush()

    def _spawn(self, event: Event, h: Handler, coroutine: Coroutine[Any, Any, Any]) -> bool:
        """Run an async handler as a task; True when its first step has not run yet
        (no eager tasks: the dispatch must pause for it)."""
        event._pending += 1
        drive = self._drive(event, h, coroutine)
        context = None
        if event._trackers or current_event.get() is not None:
            # Events its handler fires are children that ``complete`` must count (or
            # the task would inherit another handler's event): say whose they are.
            context = contextvars.copy_context()
            context.run(current_event.set, event)
        if EAGER_TASKS:
            # Its first step runs now, inside the dispatch: an ``event.stop()`` there is
            # seen by the loop at once, and a handler that never suspends is done.
            # (mypy checks against 3.11, which has no ``eager_start``.)
            task = asyncio.Task(
                drive,
                loop=self.loop,
                name=h.task_name,
                context=context,
                eager_start=True,  # type: ignore[call-arg, unused-ignore]
            )
            if not task.done():
                self._tasks.add(task)
                if event.cancellable:
                    event._keep_task(task, h)
            return False
        # (``asyncio.Task`` itself, as on 3.12+: ``loop.create_task`` with a name costs
        # a ``set_name`` call per task, 6% of a task on uvloop and 11% on asyncio's loop.)
        task = asyncio.Task(drive, loop=self.loop, name=h.task_name, context=context)
        self._tasks.add(task)
        if event.cancellable:
            event._keep_task(task, h)
        return True

    async def _drive(self, event: Event, h: Handler, coroutine: Coroutine[Any, Any, Any]) -> None:
        """Run an async handler and account for it, inside its task: no done callback
        (and so no extra loop callback) per handler."""
        value: Value = event.value  # type: ignore[assignment]
        try:
            result = await coroutine
        except Exception as error:
            self._handler_failed(event, h, error)
        except SystemExit as request:
            h.owner.stop(request.code)
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
            event._pending -= 1
            if not event._pending and self._current is not event:
                # (Ended inside its event's dispatch, eagerly: the dispatch finishes it.)
                if (
                    value.errors
                    or value._callbacks is not None
                    or self._waiters
                    or event.success
                    or event._trackers
                ):
                    self._finished(event)
                else:
                    # Nobody waits, nothing follows: ``Value._finish``, inlined as in
                    # ``_drain`` (two calls were ~4% of an async handler's cost on 3.11).
                    results = value._results
                    if results is not None:
                        value.result = results[0] if len(results) == 1 else results
                    value.done = True
        if value.done and refcount(value) == ALONE and refcount(event) == ALONE:
            event.value = None  # nobody else can see either: free both now (_lifetimes)

    def _start_delivered(
        self, h: Handler, kind: type[Event], channels: tuple[Any, ...], args: tuple[Any, ...]
    ) -> asyncio.Task[Any] | None:
        """Start *h*'s task for a ``kind(*args)`` nobody will see (:func:`deliver_task`
        checked that); None when calling the handler failed at once (reported)."""
        try:
            coroutine = h.invoke(*args)
        except Exception as error:  # (a wrong argument count, say)
            self._delivered_failed(h, kind, channels, args, error)
            return None
        drive = self._drive_delivered(h, kind, channels, args, coroutine)
        # While its first step runs (eagerly, 3.12+) the tree is dispatching, as for a
        # plain handler's ``deliver``: what it fires waits its turn, and is dispatched
        # right after, here, so no flush is scheduled for that.
        scheduled = self._flush_scheduled
        self._flush_scheduled = True
        self._current = _DELIVERING
        try:
            if EAGER_TASKS:
                task = asyncio.Task(
                    drive,
                    loop=self.loop,
                    name=h.task_name,
                    eager_start=True,  # type: ignore[call-arg, unused-ignore]
                )
            else:
                task = asyncio.Task(drive, loop=self.loop, name=h.task_name)
        finally:
            self._current = None
            self._flush_scheduled = scheduled
        if not task.done():
            self._tasks.add(task)
        if (self.queue or self._ranked) and (self._paused or not self._drain(self.batch)):
            self._schedule_flush()  # the rest after the loop's I/O, as a flush would
        return task

    async def _drive_delivered(
        self,
        h: Handler,
        kind: type[Event],
        channels: tuple[Any, ...],
        args: tuple[Any, ...],
        coroutine: Coroutine[Any, Any, Any],
    ) -> Any:
        """Run a delivered handler inside its task: its result is the task's, and its
        failure is reported as a fired event's would be (the task then gives None)."""
        try:
            return await coroutine
        except Exception as error:
            self._delivered_failed(h, kind, channels, args, error)
        except SystemExit as request:
            h.owner.stop(request.code)  # as circuits: stop, with that exit code
        finally:
            self._tasks.discard(asyncio.current_task())
        return None

    def _delivered_failed(
        self,
        h: Handler,
        kind: type[Event],
        channels: tuple[Any, ...],
        args: tuple[Any, ...],
        error: Exception,
    ) -> None:
        """Report a delivered handler's failure with the event it stood for, made now."""
        event = kind(*args)
        event.channels = channels
        event.value = Value(event)
        self._handler_failed(event, h, error)

    def _chain(self, event: Event, chained: Value) -> None:
        """A handler returned another event's value: ours is that one's result."""
        if chained.done:
            event.value._adopt(chained)  # type: ignore[union-attr]
            return
        if event.cancellable:
            event._keep_chained(chained.event)
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
        """One of the things *event* waited for is done; finish it after the last."""
        event._pending -= 1
        if not event._pending:
            self._finished(event)

    def _finished(self, event: Event) -> None:
        value: Value = event.value  # type: ignore[assignment]
        value._finish()
        if self._waiters:
            notify_waiters(self._waiters, event)
        if event.notify:
            self.fire(value_changed(event), event.channels, parent=event)
        if value.errors:
            if event.failure:
                follow = derived(f"{event.name}_failure", event, value.result)
                self.fire(follow, event.failure_channels or event.channels, parent=event)
        elif event.success:
            follow = derived(f"{event.name}_success", event, value.result)
            self.fire(follow, event.success_channels or event.channels, parent=event)
        for tracker in event._trackers:  # (none, most of the time)
            tracker._outstanding -= 1
            if tracker._outstanding == 0:
                self._tracker_closed(tracker)
                result = tracker.value.result  # type: ignore[union-attr]
                done = derived(f"{tracker.name}_complete", tracker, result)
                self.fire(done, tracker.complete_channels or tracker.channels, parent=None)

    def thread_pool(self) -> ThreadPoolExecutor:
        """The pool of ``thread=True`` handlers (:mod:`relays._threads`), made on first
        use with the root's ``handler_threads``; shut down when the tree stops."""
        pool = self._thread_pool
        if pool is None:
            size = self.root.handler_threads
            if size < 1:
                raise ValueError(f"handler_threads must be at least 1, not {size}")
            pool = self._thread_pool = ThreadPoolExecutor(size, "relays-handler")
        return pool

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
        if self._thread_pool is not None:
            # Calls already running finish in their threads; nothing waits for them.
            self._thread_pool.shutdown(wait=False, cancel_futures=True)
            self._thread_pool = None
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
        """Take over another hub's handlers, queued events and open trackers (on
        register: its tree joins this one)."""
        self.add_handlers(other.handlers)
        other.handlers = []
        other._take_inbox()
        while other._ranked:
            self._enqueue(heappop(other._ranked)[2])
        while other.queue:
            self._enqueue(other.queue.popleft())
        if self.queue or self._ranked:
            self._schedule_flush()
        self.open_trackers += other.open_trackers
        other.open_trackers = 0
        other._merged_into = self


def deliver(
    component: BaseComponent, kind: type[Event], channels: tuple[Any, ...], *args: Any
) -> Any:
    """Run what firing ``kind(*args)`` on *channels* would run, now, without the event.

    For a transport's hot path (a connection's ``read``, say), where making and
    queueing an event costs more than its handler. It works only when nobody could
    tell the difference: the tree is idle (on the loop's thread, nothing queued,
    nothing dispatching: the event would have run next anyway), exactly one handler
    would run, a plain function that does not take the event (or none would run),
    nobody waits for *kind*'s name, no ``complete`` is being tracked in the tree, and
    *kind* asks for no ``success``, ``failure``, ``complete`` or ``priority``. Then it
    returns the handler's return value (None when no handler ran); if the handler
    raises, the error is reported as an ``exception`` event, exactly as for a fired
    event, and None is returned. The events the handler fired are dispatched before
    it returns, as they would have been right after the event it stands for. Otherwise
    nothing runs and it returns :data:`NOT_DELIVERED`: fire the event as usual.
    """
    # The hub's own code, and its only copy: it is the component's method itself
    # (``BaseComponent.deliver``) rather than a method of the Hub that the component
    # forwards to, because that forwarding call was 10% of a delivery on 3.11.
    hub = component._hub
    if (
        hub._current is not None
        or hub._paused
        or hub.queue
        or hub._ranked
        or hub.open_trackers
        or hub.thread_id != _get_ident()
        or (hub._waiters and kind.name in hub._waiters)
    ):
        return NOT_DELIVERED
    found = hub._sole.get((kind, channels), _UNKNOWN)
    if found is _UNKNOWN:
        found = hub.sole(kind, channels)
    if found is None:
        return NOT_DELIVERED
    if found is NOBODY:
        return None
    # While it runs, it is dispatching: an event fired or called meanwhile waits
    # its turn, as it would behind the event this call stands for. What it fires
    # is dispatched right after it, here, so no flush is scheduled for that.
    scheduled = hub._flush_scheduled
    hub._flush_scheduled = True
    hub._current = _DELIVERING
    try:
        result = found.callback(*args)
    except Exception as error:
        event = kind(*args)
        event.channels = channels
        event.value = Value(event)
        hub._handler_failed(event, found, error)
        result = None
    except SystemExit as request:
        found.owner.stop(request.code)  # as circuits: stop, with that exit code
        result = None
    finally:
        hub._current = None
        hub._flush_scheduled = scheduled
    if (hub.queue or hub._ranked) and (hub._paused or not hub._drain(hub.batch)):
        hub._schedule_flush()  # the rest after the loop's I/O, as a flush would
    return result


def deliver_task(
    component: BaseComponent, kind: type[Event], channels: tuple[Any, ...], *args: Any
) -> Any:
    """Start what firing ``kind(*args)`` on *channels* would start, now, without the
    event: :func:`deliver` for a handler that is ``async def``.

    For a transport's hot path whose handler awaits (a connection's ``read``, say). It
    works under :func:`deliver`'s conditions (nobody could tell the difference: the
    tree is idle, on the loop's thread; nobody waits for *kind*'s name; no ``complete``
    is tracked; *kind* asks for no ``success``, ``failure``, ``complete`` or
    ``priority``), when exactly one handler would run and it is an ``async def``
    handler that does not take the event, and when not called from inside a handler
    task of a tracked cascade. Then it starts that handler's task and returns it (on
    Python 3.12+ the task's first step, up to its first suspension, has run by then,
    as it would have inside the event's dispatch; what it fired meanwhile has been
    dispatched too). The task's result is the handler's return value; if the handler
    raises, the error is reported as an ``exception`` event, exactly as for a fired
    event, and the task's result is None. The task is the tree's, as a fired event's
    would be: cancelled when the tree stops. When no handler would run it returns
    None; otherwise nothing runs and it returns :data:`NOT_DELIVERED`: fire the event.
    """
    # As ``deliver``: the component's method itself, no forwarding call.
    hub = component._hub
    if (
        hub._current is not None
        or hub._paused
        or hub.queue
        or hub._ranked
        or hub.open_trackers
        or hub.thread_id != _get_ident()
        or (hub._waiters and kind.name in hub._waiters)
    ):
        return NOT_DELIVERED
    found = hub._sole_tasks.get((kind, channels), _UNKNOWN)
    if found is _UNKNOWN:
        found = hub.sole_task(kind, channels)
    if found is None or current_event.get() is not None:
        # (Inside a task of an event that a ``complete`` counted: what the handler
        # fires would belong to that cascade, which only an event can say.)
        return NOT_DELIVERED
    if found is NOBODY:
        return None
    return hub._start_delivered(found, kind, channels, args)
