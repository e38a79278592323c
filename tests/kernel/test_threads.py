"""``@handler(..., thread=True)``: a plain handler run in the tree's thread pool, with an
async handler's event semantics."""

from __future__ import annotations

import contextvars
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from relays import Component, Event, handler
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
