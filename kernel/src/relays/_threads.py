"""Handlers that run in a thread: ``@handler("name", thread=True)``.

Theory of operation
-------------------
A plain handler runs on the event loop: fast, and fine for anything that does not
block. Code that blocks (a database driver, a file read, ``time.sleep``) would stall
every other connection there, so ``thread=True`` runs it in the tree's thread pool
instead. Such a handler is turned, when it is bound, into an ``async def`` handler
(:func:`in_thread`) whose one step hands the call to the pool and awaits it: it gets
exactly an async handler's event semantics, because it *is* one to the dispatcher. Its
return value becomes the event's value, its exception fires ``exception``, handlers
after it run once it has been handed over (``event.stop()`` in it cannot stop them, as
in an async handler after its first ``await``), and an event stopped before it runs
never reaches it.

The call runs in a copy of the loop side's context (``contextvars``), as
``asyncio.to_thread`` does, so context variables set for the event (the current
request, say) are seen in the thread. A handler returning a plain generator is iterated
in the pool too, one ``next()`` per hand-over: the caller gets an asynchronous iterator.

The pool is the hub's (:meth:`relays._dispatch.Hub.thread_pool`), made on first use,
with at most :attr:`~relays.BaseComponent.handler_threads` threads
(:data:`HANDLER_THREADS` by default); it is shut down when the tree stops.

Code already on the loop that wants a call run in that pool without an event (a
plugin's own life cycle, as relays-servlets runs its servlets) calls
:func:`run_in_pool`: the call is handed to the pool at once, in a copy of the context,
and the pool thread, once the call has returned or raised, settles the loop future it
returned with one ``call_soon_threadsafe``: one wake-up of the loop per call. No task
is made for it: wrapping the call in a coroutine and a task would cost that task's two
steps (start, and wake-up when the pool is done) on every call, about the price of a
second request on the loop. ``thread=True`` handlers hand their calls over the same way
(rather than through ``loop.run_in_executor``, which chains a second future to the
pool's and copies its state over: more calls for the same one wake-up).

A plain handler that answers its event with a pool call's outcome makes a
:class:`PoolCall` and returns its :attr:`~PoolCall.value`: the dispatcher waits for a
returned value as for any other event's (the handler stays a plain function: no task,
no coroutine), and the pool thread's one ``call_soon_threadsafe`` calls the loop-side
code that ends it directly, where an asyncio future would first schedule its callbacks
for one more turn of the loop. The caller may end the value sooner (relays-servlets
does when a servlet starts streaming); a call that raises is reported as a failing
handler is.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import functools
import inspect
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import Executor
from typing import TYPE_CHECKING, Any

from ._events import Event
from ._values import Value

if TYPE_CHECKING:
    from ._components import BaseComponent

__all__ = ["HANDLER_THREADS", "PoolCall", "in_thread", "run_in_pool"]

#: Threads in a tree's pool for ``thread=True`` handlers, unless the root says otherwise.
HANDLER_THREADS = 32

_END: Any = object()


def in_thread(function: Callable[..., Any], owner: BaseComponent) -> Callable[..., Any]:
    """*function* as an ``async def`` handler that runs it in *owner*'s tree's pool."""
    if inspect.iscoroutinefunction(function) or inspect.isasyncgenfunction(function):
        raise TypeError(
            f"{getattr(function, '__qualname__', function)} is async: thread=True is for "
            "plain functions that block (an async handler already runs on the loop "
            "without blocking it)"
        )

    @functools.wraps(function)
    async def run_in_thread(*args: Any, **kwargs: Any) -> Any:
        loop = asyncio.get_running_loop()
        pool = owner._hub.thread_pool()
        context = contextvars.copy_context()
        result = await _hand_to_pool(loop, pool, context, function, args, kwargs)
        if inspect.isgenerator(result):
            return _iterate_in_thread(result, loop, pool, context)
        return result

    return run_in_thread


def run_in_pool(
    owner: BaseComponent, function: Callable[..., Any], *args: Any, **kwargs: Any
) -> asyncio.Future[Any]:
    """Run ``function(*args, **kwargs)`` on *owner*'s tree's thread pool; its future.

    Call it on the loop of a running tree. The call starts at once (or waits for a free
    thread), in a copy of the current context as ``thread=True`` handlers are; the
    returned asyncio future ends with its return value or its exception, and can be
    awaited or given a done callback. No task is made, and the pool thread hands the
    outcome back to the loop in one call (see the theory of operation): it is the way
    for a plugin to hand blocking work to the pool from a handler it already runs.
    Cancelling the future does not stop a call that has started. A future already
    done when the call ends (cancelled, or settled early on the loop by its caller, as
    relays-servlets does when a servlet starts streaming) keeps what it has: the call's
    outcome is dropped.
    """
    loop = asyncio.get_running_loop()
    pool = owner._hub.thread_pool()
    return _hand_to_pool(loop, pool, contextvars.copy_context(), function, args, kwargs)


class _PoolCallEvent(Event):
    """``pool_call(function)``: the event a :class:`PoolCall`'s value belongs to. Never
    fired: it names the call in the value's ``repr`` and in a failure's report."""

    name = "pool_call"


class PoolCall:
    """``function(*args, **kwargs)`` on *owner*'s tree's thread pool, its outcome a
    :class:`~relays.Value`: return :attr:`value` from a plain handler.

    Made on the loop of a running tree; the call starts at once (or waits for a free
    thread), in a copy of the current context, as with :func:`run_in_pool`. The value
    ends with the call's return value, handed back to the loop in one call and ended
    there directly (see the theory of operation); a handler that returns it answers
    its event with that result, with no task around the call. A call that raises fails
    the value and is reported as a failing handler is: logged, or an ``exception``
    event for whoever handles them (its ``fevent`` is the call's own ``pool_call``
    event, its ``handler`` None). :meth:`settle` and :meth:`fail` end the value sooner,
    on the loop; the call's own outcome is then dropped.
    """

    __slots__ = ("_owner", "value")

    def __init__(
        self, owner: BaseComponent, function: Callable[..., Any], *args: Any, **kwargs: Any
    ) -> None:
        loop = asyncio.get_running_loop()
        event = _PoolCallEvent(function)
        #: Ends with the call's outcome, or sooner with :meth:`settle`'s result.
        self.value = event.value = Value(event)
        self._owner = owner
        owner._hub.thread_pool().submit(
            _run_and_call_back,
            loop,
            self._ended,
            contextvars.copy_context(),
            function,
            args,
            kwargs,
        )

    def __repr__(self) -> str:
        return f"<PoolCall {self.value!r}>"

    def settle(self, result: Any) -> bool:
        """On the loop: end :attr:`value` now with *result*, unless it has ended;
        whether it did. The call goes on; its own outcome will be dropped."""
        value = self.value
        if value.done:
            return False
        if result is not None:
            value._collect(result)
        value._finish()
        return True

    def _ended(self, outcome: Any, failed: bool) -> None:
        """On the loop: the call returned *outcome*, or raised it (*failed*)."""
        if not failed:
            self.settle(outcome)
            return
        value = self.value
        if value.done:
            return  # settled sooner: its failure is the caller's to report (or not)
        self.fail(outcome)

    def fail(self, error: BaseException) -> bool:
        """On the loop: end :attr:`value` now with *error*, reported as the call's own
        failure is, unless it has ended; whether it did."""
        value = self.value
        if value.done:
            return False
        if isinstance(error, Exception):
            # Reported as a failing handler's error is (which fails the value too); no
            # handler to name: it is the call's.
            self._owner._hub._handler_failed(value.event, None, error)  # type: ignore[arg-type]
        else:
            value._fail(error)
        value._finish()
        return True


def _run_and_call_back(
    loop: asyncio.AbstractEventLoop,
    ended: Callable[[Any, bool], None],
    context: contextvars.Context,
    function: Callable[..., Any],
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
) -> None:
    """On a pool thread: the call, then ``ended(outcome, failed)`` on the loop, one call."""
    try:
        outcome = context.run(function, *args, **kwargs)
        failed = False
    except BaseException as error:  # handed to the loop, as _run_and_hand_back does
        outcome = error
        failed = True
    with contextlib.suppress(RuntimeError):  # the loop closed while the call ran
        loop.call_soon_threadsafe(ended, outcome, failed)


def _hand_to_pool(
    loop: asyncio.AbstractEventLoop,
    pool: Executor,
    context: contextvars.Context,
    function: Callable[..., Any],
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
) -> asyncio.Future[Any]:
    future = loop.create_future()
    pool.submit(_run_and_hand_back, loop, future, context, function, args, kwargs)
    return future


def _run_and_hand_back(
    loop: asyncio.AbstractEventLoop,
    future: asyncio.Future[Any],
    context: contextvars.Context,
    function: Callable[..., Any],
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
) -> None:
    """On a pool thread: the call, then its outcome handed to the loop in one call.

    (``loop.run_in_executor`` would chain a second future to the pool's and copy its
    state over: more calls for the same single wake-up.)
    """
    settle: Callable[[asyncio.Future[Any], Any], None]
    try:
        outcome = context.run(function, *args, **kwargs)
        settle = _set_result
    except BaseException as error:  # handed to whoever awaits the future, as asyncio does
        outcome = error
        settle = _set_exception
    with contextlib.suppress(RuntimeError):  # the loop closed while the call ran: nobody
        loop.call_soon_threadsafe(settle, future, outcome)  # is left to tell


def _set_result(future: asyncio.Future[Any], result: Any) -> None:
    if not future.done():
        future.set_result(result)


def _set_exception(future: asyncio.Future[Any], error: BaseException) -> None:
    if not future.done():
        future.set_exception(error)


async def _iterate_in_thread(
    generator: Iterator[Any],
    loop: asyncio.AbstractEventLoop,
    pool: Any,
    context: contextvars.Context,
) -> AsyncIterator[Any]:
    """Each item of *generator*, produced in the pool (``next()`` may block)."""
    step = functools.partial(context.run, next, generator, _END)
    try:
        while True:
            item = await loop.run_in_executor(pool, step)
            if item is _END:
                return
            yield item
    finally:
        close = getattr(generator, "close", None)
        if close is not None:
            await loop.run_in_executor(pool, context.run, close)
