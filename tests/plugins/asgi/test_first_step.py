"""``start_task``: a task whose first step has run before it is returned (3.11's eager start)."""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Coroutine
from typing import Any

import pytest

from relays_asgi._first_step import start_task

seen: contextvars.ContextVar[str] = contextvars.ContextVar("seen", default="unset")


async def started(coroutine: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
    """``start_task(coroutine)`` called from a loop callback, as the dispatch calls it
    (a test runs in a task, where no other task can be entered)."""
    loop = asyncio.get_running_loop()
    task: asyncio.Future[asyncio.Task[Any]] = loop.create_future()
    loop.call_soon(lambda: task.set_result(start_task(coroutine)[0]))
    return await task


async def test_a_coroutine_that_never_waits_is_done_in_its_first_step() -> None:
    steps: list[str] = []

    async def answer() -> None:
        steps.append("answered")

    loop = asyncio.get_running_loop()
    outcome: asyncio.Future[tuple[asyncio.Task[None], bool]] = loop.create_future()
    loop.call_soon(lambda: outcome.set_result(start_task(answer())))
    task, finished = await outcome
    assert finished
    assert steps == ["answered"]  # before the task ran a step of its own
    await task
    assert task.done()
    assert task.exception() is None


async def test_the_first_step_runs_as_the_task_that_goes_on() -> None:
    tasks: list[asyncio.Task[object] | None] = []
    go_on = asyncio.get_running_loop().create_future()

    async def app() -> None:
        tasks.append(asyncio.current_task())
        await go_on
        tasks.append(asyncio.current_task())

    task = await started(app())
    assert tasks == [task]
    go_on.set_result(None)
    await task
    assert tasks == [task, task]


async def test_a_timeout_opened_in_the_first_step_works_after_it() -> None:
    # asyncio.timeout needs the current task, and the same one when it ends.
    outcome = asyncio.get_running_loop().create_future()

    async def app() -> None:
        try:
            async with asyncio.timeout(0):
                await asyncio.get_running_loop().create_future()  # never done
        except TimeoutError:
            outcome.set_result("timed out")

    await started(app())
    assert await outcome == "timed out"


async def test_cancelling_the_task_cancels_the_coroutine_where_it_waits() -> None:
    waiting = asyncio.get_running_loop().create_future()
    cleaned = asyncio.get_running_loop().create_future()

    async def app() -> None:
        try:
            await waiting
        finally:
            cleaned.set_result(True)

    task = await started(app())
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert await cleaned
    assert waiting.cancelled()


async def test_a_coroutine_that_catches_its_cancellation_goes_on() -> None:
    loop = asyncio.get_running_loop()
    waiting = loop.create_future()
    caught = loop.create_future()
    later = loop.create_future()

    async def app() -> str:
        try:
            await waiting
        except asyncio.CancelledError:
            caught.set_result(True)
            await later
        return "went on"

    task = await started(app())
    task.cancel()  # thrown in where the app waits
    assert await caught
    assert not task.done()
    later.set_result(None)
    assert await task == "went on"


async def test_a_task_cancelled_before_its_own_first_step_cancels_the_app() -> None:
    loop = asyncio.get_running_loop()
    cleaned = loop.create_future()

    async def app() -> None:
        try:
            await loop.create_future()  # never done
        finally:
            cleaned.set_result(True)

    def start_and_cancel() -> asyncio.Task[None]:
        task, finished = start_task(app())
        assert not finished
        task.cancel()  # the task has not stepped yet: the error goes in at its first
        return task

    started_task: asyncio.Future[asyncio.Task[None]] = loop.create_future()
    loop.call_soon(lambda: started_task.set_result(start_and_cancel()))
    task = await started_task
    with pytest.raises(asyncio.CancelledError):
        await task
    assert await cleaned


async def test_bare_yields_and_the_context_are_the_tasks() -> None:
    seen.set("outside")
    values: list[str] = []

    async def app() -> None:
        values.append(seen.get())
        seen.set("inside")
        await asyncio.sleep(0)  # a bare yield: the task just steps again
        values.append(seen.get())

    await (await started(app()))
    assert values == ["outside", "inside"]
    assert seen.get() == "outside"  # the task ran in a copy of the context


async def test_inside_a_running_task_it_starts_the_ordinary_way() -> None:
    steps: list[str] = []

    async def answer() -> None:
        steps.append("answered")

    task, finished = start_task(answer())  # (this test runs in a task)
    assert not finished
    assert steps == []  # another task is running: no second one can be entered
    await task
    assert steps == ["answered"]
