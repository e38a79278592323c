"""``@handler(..., thread=True)``: a plain handler run in the tree's thread pool, with an
async handler's event semantics."""

from __future__ import annotations

import asyncio
import contextvars
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from relays import Component, Event, handler, run_in_pool
from relays.testing import Manager, drain

request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")


class Blocking(Component):
    def __init__(self) -> None:
        super().__init__()
        self.threads: list[str] = []
        self.loop_thread = threading.get_ident()
        self.release = threading.Event()
        self.order: list[str] = []

    @handler("work", thread=True)
    def work(self, x: int) -> int:
        self.threads.append(threading.current_thread().name)
        return x * 2

    @handler("fail", thread=True)
    def fail(self) -> None:
        raise LookupError("from the thread")

    @handler("context", thread=True)
    def context(self) -> str:
        return request_id.get()

    @handler("rows", thread=True)
    def rows(self, n: int) -> Iterator[tuple[int, str]]:
        for i in range(n):
            yield i, threading.current_thread().name

    @handler("gate", thread=True)
    def gate(self) -> str:
        assert self.release.wait(30)
        return "through"


async def test_the_return_value_is_the_events_and_it_ran_in_a_pool_thread(
    manager: Manager,
) -> None:
    app = Blocking()
    manager += app
    assert await manager.call(Event.create("work", 21)) == 42
    assert app.threads
    assert app.threads[0].startswith("relays-handler")


async def test_an_exception_fires_exception_and_fails_the_value(manager: Manager) -> None:
    reports: list[type[BaseException]] = []

    class Watcher(Component):
        def exception(self, error_type: type[BaseException], *_: Any, **__: Any) -> None:
            reports.append(error_type)

    manager += Blocking()
    manager += Watcher()
    with pytest.raises(LookupError, match="from the thread"):
        await manager.call(Event.create("fail"))
    await drain(manager)
    assert reports == [LookupError]


async def test_context_variables_are_seen_in_the_thread(manager: Manager) -> None:
    manager += Blocking()
    await drain(manager)  # idle: ``call`` dispatches right here, in this context
    token = request_id.set("r-7")
    try:
        value = manager.call(Event.create("context"))
    finally:
        request_id.reset(token)
    assert await value == "r-7"


async def test_a_generator_is_iterated_in_the_thread(manager: Manager) -> None:
    manager += Blocking()
    rows = await manager.call(Event.create("rows", 3))
    got = [row async for row in rows]
    assert [i for i, _ in got] == [0, 1, 2]
    assert all(name.startswith("relays-handler") for _, name in got)


async def test_the_loop_keeps_running_while_a_thread_handler_blocks(manager: Manager) -> None:
    app = Blocking()
    manager += app
    gated = manager.fire(Event.create("gate"))
    assert await manager.call(Event.create("work", 1)) == 2  # not stuck behind the gate
    assert not gated.done
    app.release.set()
    assert await gated == "through"


class Stopper(Component):
    def __init__(self) -> None:
        super().__init__()
        self.ran: list[str] = []

    @handler("job", priority=1)
    def halt(self, event: Event) -> None:
        event.stop()

    @handler("job", thread=True)
    def job(self) -> None:
        self.ran.append("job")


async def test_a_stopped_event_never_reaches_a_thread_handler(manager: Manager) -> None:
    app = Stopper()
    manager += app
    await manager.call(Event.create("job"))
    assert app.ran == []


def test_an_async_function_cannot_be_a_thread_handler() -> None:
    class Wrong(Component):
        @handler("x", thread=True)
        async def x(self) -> None: ...

    with pytest.raises(TypeError, match="thread=True is for plain functions"):
        Wrong()


async def test_the_pool_is_bounded_by_the_roots_handler_threads() -> None:
    class Small(Component):
        handler_threads = 2

    root = Small()
    root += Blocking()
    async with root:
        await root.call(Event.create("work", 1))
        assert root._hub.thread_pool()._max_workers == 2
    assert root._hub._thread_pool is None  # shut down with the tree


def test_handler_threads_is_named_with_a_default() -> None:
    from relays._threads import HANDLER_THREADS

    assert Component.handler_threads == HANDLER_THREADS == 32


# -- run_in_pool: the pool's future for a plugin's own blocking call, no task ------------


async def test_run_in_pool_gives_the_calls_value_from_a_pool_thread(manager: Manager) -> None:
    app = Blocking()
    manager += app
    await drain(manager)

    def named(prefix: str, *, suffix: str) -> str:
        return prefix + threading.current_thread().name + suffix

    tasks_before = len(asyncio.all_tasks())
    future = run_in_pool(app, named, "<", suffix=">")
    assert isinstance(future, asyncio.Future)
    assert len(asyncio.all_tasks()) == tasks_before  # the pool's future, no task around it
    answer = await future
    assert answer.startswith("<relays-handler")
    assert answer.endswith(">")


async def test_run_in_pool_sets_the_calls_exception_on_its_future(manager: Manager) -> None:
    app = Blocking()
    manager += app
    await drain(manager)

    def fails() -> None:
        raise LookupError("from the pool")

    ended = asyncio.get_running_loop().create_future()
    future = run_in_pool(app, fails)
    future.add_done_callback(ended.set_result)
    assert await ended is future
    with pytest.raises(LookupError, match="from the pool"):
        future.result()


async def test_run_in_pool_runs_in_a_copy_of_the_callers_context(manager: Manager) -> None:
    app = Blocking()
    manager += app
    await drain(manager)

    def read_and_change() -> str:
        seen = request_id.get()
        request_id.set("changed in the thread")
        return seen

    token = request_id.set("r-9")
    try:
        assert await run_in_pool(app, read_and_change) == "r-9"
        assert request_id.get() == "r-9"  # the thread's change stayed in its copy
    finally:
        request_id.reset(token)


async def test_run_in_pool_shares_the_trees_bounded_pool() -> None:
    class Small(Component):
        handler_threads = 1

    root = Small()
    app = Blocking()
    root += app
    async with root:
        gated = root.fire(Event.create("gate"))  # holds the one thread
        queued = run_in_pool(app, lambda: "after the gate")
        app.release.set()
        assert await gated == "through"
        assert await queued == "after the gate"


async def test_a_future_settled_early_by_its_caller_keeps_its_value() -> None:
    """relays-servlets settles the future itself when a servlet starts streaming: the
    call's own outcome, handed back later, is dropped without an error."""

    class Single(Component):
        handler_threads = 1  # so the second call's hand-back comes after the first's

    root = Single()
    loop_errors: list[dict[str, Any]] = []
    async with root:
        loop = asyncio.get_running_loop()
        loop.set_exception_handler(lambda _loop, context: loop_errors.append(context))
        try:
            release = threading.Event()
            early = run_in_pool(root, lambda: release.wait(30) and "from the call")
            early.set_result("settled early")
            failing = run_in_pool(root, _raise_lookup_error)
            failing.cancel()
            after = run_in_pool(root, lambda: "after both")
            release.set()
            assert await after == "after both"  # both earlier hand-backs have run
        finally:
            loop.set_exception_handler(None)
    assert early.result() == "settled early"
    assert failing.cancelled()
    assert loop_errors == []


def _raise_lookup_error() -> None:
    raise LookupError("dropped: its future was cancelled")
