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
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import inspect
from collections.abc import AsyncIterator, Callable, Iterator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._components import BaseComponent

__all__ = ["HANDLER_THREADS", "in_thread"]

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
        call = functools.partial(context.run, function, *args, **kwargs)
        result = await loop.run_in_executor(pool, call)
        if inspect.isgenerator(result):
            return _iterate_in_thread(result, loop, pool, context)
        return result

    return run_in_thread


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
