"""Workers run blocking functions in pools while the loop keeps dispatching."""

from __future__ import annotations

import os
import threading
import time

import pytest

from relays import Component, Event, Worker, task
from relays.testing import Manager


def blocking_square(number: int) -> int:
    time.sleep(0.05)
    return number * number


def which_process() -> int:
    return os.getpid()


def fail(message: str) -> None:
    raise ValueError(message)


async def test_call_a_task_in_a_thread_pool(manager: Manager) -> None:
    worker = Worker(workers=2).register(manager)
    assert await manager.call(task(blocking_square, 7), worker) == 49


async def test_the_loop_keeps_dispatching_while_work_runs(manager: Manager) -> None:
    worker = Worker(workers=1).register(manager)

    class Quick(Component):
        def quick(self) -> str:
            return threading.current_thread().name

    manager += Quick()
    slow = manager.fire(task(blocking_square, 3), worker)
    assert await manager.call(Event.create("quick")) == "MainThread"
    assert not slow.done
    assert await slow == 9


async def test_errors_from_tasks_propagate(manager: Manager) -> None:
    worker = Worker().register(manager)
    with pytest.raises(ValueError, match="bad input"):
        await manager.call(task(fail, "bad input"), worker)


@pytest.mark.integration
async def test_a_process_pool_runs_in_another_process(manager: Manager) -> None:
    worker = Worker(process=True, workers=1).register(manager)
    pid = await manager.call(task(which_process), worker, timeout=60)
    assert pid != os.getpid()
