"""Workers: run blocking functions in a thread or process pool, off the event loop.

``await self.call(task(fn, x), worker)`` hands ``fn(x)`` to the worker's pool and
returns its result; the loop keeps dispatching meanwhile. A process pool uses the
``spawn`` start method so it is safe beside the loop's threads.
"""

from __future__ import annotations

import asyncio
import multiprocessing
from collections.abc import Callable
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from functools import partial
from typing import Any

from ._components import BaseComponent
from ._events import Event
from ._handlers import handler

__all__ = ["Task", "Worker", "task"]


class Task(Event):
    """``task(function, *args, **kwargs)``: run *function* in a worker's pool.

    As in circuits, ``task_success(event, result)`` or ``task_failure(event, error)``
    follows on the worker's channel when it is done.
    """

    success = True
    failure = True


def task(function: Callable[..., Any], *args: Any, **kwargs: Any) -> Task:
    """The event that asks a :class:`Worker` to run ``function(*args, **kwargs)``."""
    return Task(function, *args, **kwargs)


class Worker(BaseComponent):
    """A pool of *workers* threads (or processes with ``process=True``).

    It handles ``task`` events on its channel (``"worker"`` by default); fire them at
    the worker itself to pick one pool among several.
    """

    channel = "worker"

    def __init__(
        self, *, process: bool = False, workers: int | None = None, channel: Any = "worker"
    ) -> None:
        super().__init__(channel=channel)
        self.process = process
        self.workers = workers
        self._executor: Executor | None = None

    @property
    def executor(self) -> Executor:
        if self._executor is None:
            if self.process:
                self._executor = ProcessPoolExecutor(
                    self.workers, mp_context=multiprocessing.get_context("spawn")
                )
            else:
                self._executor = ThreadPoolExecutor(
                    self.workers, thread_name_prefix="relays-worker"
                )
        return self._executor

    @handler("task")
    async def _on_task(self, function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.executor, partial(function, *args, **kwargs))

    @handler("stopped", channel="*", priority=-100)
    def _on_stopped(self, component: BaseComponent) -> None:
        self.shutdown()

    @handler("unregistered", channel="*")
    def _on_unregistered(self, component: BaseComponent, parent: BaseComponent) -> None:
        if component is self:
            self.shutdown()

    def shutdown(self) -> None:
        """Stop the pool; queued work is dropped, running work is not interrupted."""
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
            self._executor = None
