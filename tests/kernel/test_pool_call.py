"""``PoolCall``: a call on the tree's pool whose outcome is a Value a plain handler returns."""

from __future__ import annotations

import asyncio
import contextvars
import threading
from typing import Any

import pytest

from relays import Component, Event, PoolCall, Value, handler

request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")


class Expected(LookupError):
    relays_exception_event = False  # an expected outcome: fails the value, never reported


class Answers(Component):
    """Answers ``ask(function)`` with a pool call of *function*, from a plain handler."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[PoolCall] = []
        self.reports: list[tuple[BaseException, Any, Any]] = []
        self.tasks_while_asking: list[int] = []
        self.asked = asyncio.Condition()
        self.reported = asyncio.Event()

    @handler("ask")
    def ask(self, function: Any) -> Value:
        call = PoolCall(self, function)
        self.calls.append(call)
        self.tasks_while_asking.append(len(asyncio.all_tasks()))
        asyncio.get_running_loop().create_task(self._tell_asked())
        return call.value

    async def _tell_asked(self) -> None:
        async with self.asked:
            self.asked.notify_all()

    async def calls_made(self, count: int) -> list[PoolCall]:
        async with self.asked:
            await self.asked.wait_for(lambda: len(self.calls) >= count)
        return self.calls

    @handler("exception", channel="*")
    def exception(self, error_type: Any, error: BaseException, *_: Any, **kwargs: Any) -> None:
        self.reports.append((error, kwargs.get("handler"), kwargs.get("fevent")))
        self.reported.set()


async def test_a_handler_answers_with_the_calls_outcome_from_a_pool_thread() -> None:
    app = Answers()
    async with app:
        tasks = len(asyncio.all_tasks())
        token = request_id.set("r-1")
        try:
            answer = await app.call(
                Event.create("ask", lambda: (threading.current_thread().name, request_id.get()))
            )
        finally:
            request_id.reset(token)
    name, seen = answer
    assert name.startswith("relays-handler")  # the tree's pool
    assert seen == "r-1"  # in a copy of the asking handler's context
    assert app.tasks_while_asking == [tasks]  # no task made for the call (before this test's)
    assert app.calls[0].value.done
    assert "pool_call" in repr(app.calls[0])


def _raise_lookup_error() -> None:
    raise LookupError("from the pool")


async def test_a_call_that_raises_fails_the_event_and_is_reported() -> None:
    app = Answers()
    async with app:
        with pytest.raises(LookupError, match="from the pool"):
            await app.call(Event.create("ask", _raise_lookup_error))
        await app.reported.wait()  # the report is an event of its own, dispatched next
        error, handler_named, failed_event = app.reports[0]
        assert isinstance(error, LookupError)
        assert handler_named is None  # no handler: it was the pool call's
        assert failed_event.name == "pool_call"


def _raise_expected() -> None:
    raise Expected("not found")


async def test_an_expected_error_fails_the_event_without_a_report() -> None:
    app = Answers()
    async with app:
        with pytest.raises(Expected):
            await app.call(Event.create("ask", _raise_expected))
        # The next event is dispatched after any report the failure made.
        await app.call(Event.create("ask", lambda: "after"))
    assert app.reports == []


async def test_settle_and_fail_end_the_value_sooner_and_the_outcome_is_dropped() -> None:
    class Single(Answers):
        handler_threads = 1  # the calls run one after the other

    app = Single()
    loop_errors: list[dict[str, Any]] = []
    async with app:
        loop = asyncio.get_running_loop()
        loop.set_exception_handler(lambda _loop, context: loop_errors.append(context))
        release = threading.Event()
        settled = app.fire(Event.create("ask", lambda: release.wait(30) and "from the call"))
        failed = app.fire(Event.create("ask", _raise_lookup_error))
        first, second = await app.calls_made(2)
        assert first.settle("sooner") is True
        assert first.settle("again") is False
        assert await settled == "sooner"
        assert second.fail(KeyError("sooner")) is True
        assert second.fail(KeyError("again")) is False
        with pytest.raises(KeyError, match="sooner"):
            await failed
        release.set()
        # Both calls end on the pool afterwards; a last call on the one thread comes back
        # after their hand-backs, which find their values ended and drop the outcomes.
        assert await app.call(Event.create("ask", lambda: "last")) == "last"
    assert loop_errors == []
    assert [report[0].args for report in app.reports] == [("sooner",)]  # fail() reports
