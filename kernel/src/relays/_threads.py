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

if TYPE_CHECKING:
    from ._components import BaseComponent

__all__ = ["HANDLER_THREADS", "in_thread", "run_in_pool"]

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
