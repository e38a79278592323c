"""Dispatch: ordering, channels, stop, results, errors and async handlers."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest

from relays import BaseComponent, Component, Event, ExceptionEvent, Value, handler
from relays._dispatch import EAGER_TASKS
from relays.testing import Manager, drain


class Ping(Event):
    pass


class Recorder(Component):
    def __init__(self, log: list[Any], label: str = "", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.log = log
        self.label = label or self.name

    def ping(self, *args: Any) -> str:
        self.log.append((self.label, args))
        return self.label


async def test_fire_returns_a_value_that_awaits_to_the_result(manager: Manager) -> None:
    Recorder([]).register(manager)
    value = manager.fire(Ping(1))
    assert not value.done
    assert await value == "Recorder"
    assert value.done
    assert value.result == "Recorder"


async def test_several_results_become_a_list(manager: Manager) -> None:
    log: list[Any] = []
    Recorder(log, "a").register(manager)
    Recorder(log, "b").register(manager)
    assert await manager.fire(Ping()) == ["a", "b"]


async def test_no_handler_gives_none(manager: Manager) -> None:
    assert await manager.fire(Event.create("nobody_listens")) is None


async def test_events_are_dispatched_in_priority_then_firing_order(manager: Manager) -> None:
    order: list[str] = []

    class Listener(Component):
        def item(self, label: str) -> None:
            order.append(label)

    Listener().register(manager)
    low = Event.create("item", "low")
    high = Event.create("item", "high")
    high.priority = 10
    manager.fire(low)
    manager.fire(Event.create("item", "low-2"))
    last = manager.fire(high)
    await last
    await drain(manager)
    assert order == ["high", "low", "low-2"]


async def test_handlers_run_by_priority_then_registration(manager: Manager) -> None:
    order: list[str] = []

    class First(BaseComponent):
        @handler("ping", priority=-1)
        def late(self) -> None:
            order.append("late")

        @handler("ping")
        def normal(self) -> None:
            order.append("normal-1")

    class Second(BaseComponent):
        @handler("ping")
        def normal(self) -> None:
            order.append("normal-2")

        @handler("ping", priority=5)
        def early(self) -> None:
            order.append("early")

    manager += First()
    manager += Second()
    await manager.fire(Ping())
    assert order == ["early", "normal-1", "normal-2", "late"]


async def test_stop_ends_propagation(manager: Manager) -> None:
    order: list[str] = []

    class Stopper(BaseComponent):
        @handler("ping", priority=1)
        def first(self, event: Event) -> str:
            order.append("first")
            event.stop()
            return "stopped"

        @handler("ping")
        def second(self) -> None:
            order.append("second")

    manager += Stopper()
    assert await manager.fire(Ping()) == "stopped"
    assert order == ["first"]


async def test_stop_works_in_an_async_handler_before_its_first_await(manager: Manager) -> None:
    order: list[str] = []

    class Stopper(BaseComponent):
        @handler("ping", priority=1)
        async def first(self, event: Event) -> str:
            event.stop()
            order.append("first")
            await asyncio.sleep(0.01)
            return "async"

        @handler("ping")
        def second(self) -> None:
            order.append("second")

    manager += Stopper()
    assert await manager.fire(Ping()) == "async"
    assert order == ["first"]


async def test_async_handler_result_and_awaiting_other_events(manager: Manager) -> None:
    class Chain(Component):
        async def ping(self, number: int) -> int:
            doubled = await self.call(Event.create("double", number))
            return int(doubled) + 1

        def double(self, number: int) -> int:
            return number * 2

    manager += Chain()
    assert await manager.call(Ping(20)) == 41


async def test_gather_waits_for_several_events(manager: Manager) -> None:
    class Slow(Component):
        async def ping(self, delay: float) -> float:
            await asyncio.sleep(delay)
            return delay

    manager += Slow()
    values = [manager.fire(Ping(d)) for d in (0.03, 0.01, 0.02)]
    assert await asyncio.gather(*values) == [0.03, 0.01, 0.02]


async def test_a_returned_value_is_chained(manager: Manager) -> None:
    class Forwarder(Component):
        def ping(self) -> Any:
            return self.fire(Event.create("pong"))

        def pong(self) -> str:
            return "pong!"

    manager += Forwarder()
    assert await manager.fire(Ping()) == "pong!"


async def test_handler_gets_the_event_when_first_parameter_is_named_event(
    manager: Manager,
) -> None:
    seen: list[Any] = []

    class Inspecting(Component):
        def ping(self, event: Event, number: int) -> None:
            seen.append((event.name, number))

    manager += Inspecting()
    await manager.fire(Ping(7))
    assert seen == [("ping", 7)]


class Dog(Component):
    def __init__(self, log: list[str], channel: str) -> None:
        super().__init__(channel=channel)
        self.log = log

    def woof(self) -> None:
        self.log.append(self.channel)


async def test_channels_select_listeners(manager: Manager) -> None:
    log: list[str] = []
    bob = Dog(log, "bob").register(manager)
    Dog(log, "fred").register(manager)
    await manager.fire(Event.create("woof"), "bob")
    assert log == ["bob"]
    log.clear()
    await manager.fire(Event.create("woof"), "*")
    assert sorted(log) == ["bob", "fred"]
    log.clear()
    await manager.fire(Event.create("woof"), bob)
    assert log == ["bob"]
    log.clear()
    await manager.fire(Event.create("woof"), "bob", "fred")
    assert sorted(log) == ["bob", "fred"]


async def test_default_channel_is_the_firing_components(manager: Manager) -> None:
    log: list[str] = []
    bob = Dog(log, "bob").register(manager)
    Dog(log, "fred").register(manager)
    await bob.fire(Event.create("woof"))
    assert log == ["bob"]


async def test_event_class_channels_are_used_when_none_given(manager: Manager) -> None:
    log: list[str] = []
    Dog(log, "bob").register(manager)
    Dog(log, "fred").register(manager)

    class FredWoof(Event):
        name = "woof"
        channels = ("fred",)

    await manager.fire(FredWoof())
    assert log == ["fred"]


async def test_star_channel_handler_hears_every_channel(manager: Manager) -> None:
    heard: list[Any] = []

    class Everything(BaseComponent):
        @handler("woof", channel="*")
        def any_woof(self, event: Event) -> None:
            heard.append(event.channels)

    manager += Everything()
    await manager.fire(Event.create("woof"), "somewhere")
    assert heard == [("somewhere",)]


async def test_wildcard_name_handler_hears_every_event(manager: Manager) -> None:
    names: list[str] = []

    class Tap(BaseComponent):
        @handler("*", channel="*")
        def tap(self, event: Event, *args: Any, **kwargs: Any) -> None:
            names.append(event.name)

    manager += Tap()
    await manager.fire(Event.create("alpha"))
    await manager.fire(Event.create("beta"), "x")
    assert names[-2:] == ["alpha", "beta"]


async def test_handler_errors_become_exception_events(manager: Manager) -> None:
    reports: list[Any] = []

    class Broken(Component):
        def ping(self) -> None:
            raise KeyError("nope")

    class Catcher(BaseComponent):
        @handler("exception", channel="*")
        def caught(self, error_type: type, error: Exception, lines: list[str], **kw: Any) -> None:
            reports.append((error_type, error, kw["fevent"].name, "".join(lines)))

    manager += Broken()
    manager += Catcher()
    value = manager.fire(Ping())
    with pytest.raises(KeyError):
        await value
    assert value.errors
    await drain(manager)
    (error_type, _error, fevent, text), *_ = reports
    assert error_type is KeyError
    assert fevent == "ping"
    assert "raise KeyError" in text


async def test_the_app_keeps_running_after_an_error(manager: Manager) -> None:
    class Flaky(Component):
        def ping(self, fail: bool) -> str:
            if fail:
                raise RuntimeError("boom")
            return "fine"

    manager += Flaky()
    with pytest.raises(RuntimeError):
        await manager.fire(Ping(True))
    assert await manager.fire(Ping(False)) == "fine"


async def test_unhandled_errors_are_logged_once(
    manager: Manager, caplog: pytest.LogCaptureFixture
) -> None:
    class Broken(Component):
        def ping(self) -> None:
            raise ValueError("logged")

    manager += Broken()
    with caplog.at_level(logging.ERROR, logger="relays"):
        manager.fire(Ping())
        await drain(manager)
    records = [r for r in caplog.records if "logged" in r.getMessage()]
    assert len(records) == 1
    assert "Traceback" in records[0].getMessage()


async def test_each_unhandled_error_is_logged_however_many_there_are(
    manager: Manager, caplog: pytest.LogCaptureFixture
) -> None:
    """Events nobody handles take a fast path once their name is known; error reports
    must not: each one is logged."""

    class Broken(Component):
        def ping(self, n: int) -> None:
            raise ValueError(f"failure {n}")

    manager += Broken()
    with caplog.at_level(logging.ERROR, logger="relays"):
        for n in range(3):
            manager.fire(Ping(n))
        await drain(manager)
    messages = [r.getMessage() for r in caplog.records]
    assert [n for n in range(3) if any(f"failure {n}" in m for m in messages)] == [0, 1, 2]


async def test_events_nobody_handles_still_finish_and_report(manager: Manager) -> None:
    followed: list[Any] = []

    class Quiet(Event):
        success = True

    class Listener(Component):
        def quiet_success(self, event: Event, result: Any) -> None:
            followed.append(event.args)

    manager += Listener()
    values = [manager.fire(Quiet(n)) for n in range(3)]
    assert [await value for value in values] == [None, None, None]
    await drain(manager)
    assert followed == [(0,), (1,), (2,)]


async def test_a_failing_exception_handler_does_not_loop(
    manager: Manager, caplog: pytest.LogCaptureFixture
) -> None:
    class Broken(Component):
        def ping(self) -> None:
            raise ValueError("first")

    class BadCatcher(BaseComponent):
        @handler("exception", channel="*")
        def caught(self, *args: Any, **kwargs: Any) -> None:
            raise RuntimeError("second")

    manager += Broken()
    manager += BadCatcher()
    with caplog.at_level(logging.ERROR, logger="relays"):
        manager.fire(Ping())
        await drain(manager)
    assert any("second" in r.getMessage() for r in caplog.records)


async def test_async_handler_errors_are_reported_too(manager: Manager) -> None:
    seen: list[Any] = []

    class Broken(Component):
        async def ping(self) -> None:
            await asyncio.sleep(0)
            raise LookupError("late")

        @handler("exception", channel="*")
        def caught(self, error_type: type, *args: Any, **kwargs: Any) -> None:
            seen.append(error_type)

    manager += Broken()
    with pytest.raises(LookupError):
        await manager.fire(Ping())
    await drain(manager)
    assert seen == [LookupError]


async def test_success_and_failure_events(manager: Manager) -> None:
    seen: list[Any] = []

    class Worky(Component):
        def ping(self, fail: bool) -> str:
            if fail:
                raise ValueError("bad")
            return "ok"

        def ping_success(self, event: Event, result: Any) -> None:
            seen.append(("success", result))

        def ping_failure(self, event: Event, error: Any) -> None:
            seen.append(("failure", type(error)))

        @handler("exception", channel="*")
        def quiet(self, *args: Any, **kwargs: Any) -> None:
            pass

    manager += Worky()
    good = Ping(False)
    good.success = True
    bad = Ping(True)
    bad.failure = True
    await manager.fire(good)
    with pytest.raises(ValueError, match="bad"):
        await manager.fire(bad)
    await drain(manager)
    assert seen == [("success", "ok"), ("failure", ValueError)]


async def test_complete_waits_for_the_whole_cascade(manager: Manager) -> None:
    order: list[str] = []

    class Cascade(Component):
        def ping(self) -> None:
            order.append("ping")
            self.fire(Event.create("step", 1))

        async def step(self, number: int) -> None:
            await asyncio.sleep(0.01)
            order.append(f"step{number}")
            if number < 3:
                self.fire(Event.create("step", number + 1))

        def ping_complete(self, event: Event, result: Any) -> None:
            order.append("complete")

    manager += Cascade()
    event = Ping()
    event.complete = True
    manager.fire(event)
    await manager.wait("ping_complete", timeout=2)
    assert order == ["ping", "step1", "step2", "step3", "complete"]


async def test_wait_returns_at_once_for_a_finished_event(manager: Manager) -> None:
    Recorder([]).register(manager)
    event = Ping()
    await manager.fire(event)
    assert await manager.wait(event, timeout=0.5) == "Recorder"


async def test_wait_for_the_next_event_by_name(manager: Manager) -> None:
    Recorder([]).register(manager)

    async def later() -> None:
        await asyncio.sleep(0.01)
        manager.fire(Ping())

    task = asyncio.create_task(later())
    assert await manager.wait("ping", timeout=1) == "Recorder"
    await task


async def test_wait_and_call_time_out_in_seconds(manager: Manager) -> None:
    class Never(Component):
        async def ping(self) -> None:
            await asyncio.sleep(10)

    manager += Never()
    with pytest.raises(TimeoutError):
        await manager.wait("nothing", timeout=0.05)
    with pytest.raises(TimeoutError, match=r"within 0\.05 s"):
        await manager.call(Ping(), timeout=0.05)


async def test_the_cache_follows_tree_changes(manager: Manager) -> None:
    log: list[Any] = []
    first = Recorder(log, "first").register(manager)
    assert await manager.fire(Ping()) == "first"
    second = Recorder(log, "second").register(manager)
    assert await manager.fire(Ping()) == ["first", "second"]
    first.unregister()
    await drain(manager)
    assert await manager.fire(Ping()) == "second"
    manager - second
    await drain(manager)
    assert await manager.fire(Ping()) is None


def test_fire_from_another_thread_is_safe(manager: Manager) -> None:
    import threading

    counts: list[int] = []

    class Counter(Component):
        def ping(self, number: int) -> int:
            counts.append(number)
            return number

    manager += Counter()
    values: list[Any] = []

    def worker(offset: int) -> None:
        values.extend(manager.fire(Ping(offset + i)) for i in range(200))

    threads = [threading.Thread(target=worker, args=(n * 1000,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    results = [value.get(timeout=5) for value in values]
    assert sorted(results) == sorted(counts)
    assert len(counts) == 800


def test_fire_rejects_what_is_not_an_event() -> None:
    with pytest.raises(TypeError, match="takes an Event"):
        Manager().fire("ping")  # type: ignore[arg-type]


async def test_cancelled_handler_tasks_fail_their_value(manager: Manager) -> None:
    class Hang(Component):
        async def ping(self) -> None:
            await asyncio.sleep(10)

    manager += Hang()
    value = manager.fire(Ping())
    await asyncio.sleep(0.01)
    await manager._hub.cancel_tasks()
    assert value.done
    assert value.errors
    assert isinstance(value.result, asyncio.CancelledError)


async def test_exception_event_carries_handler_and_event(manager: Manager) -> None:
    captured: list[ExceptionEvent] = []

    class Broken(Component):
        def ping(self) -> None:
            raise OSError("disk")

        @handler("exception", channel="*")
        def caught(self, event: ExceptionEvent, *args: Any, **kwargs: Any) -> None:
            captured.append(event)

    manager += Broken()
    manager.fire(Ping())
    await drain(manager)
    (report,) = captured
    assert report.kwargs["handler"].name == "ping"
    assert report.kwargs["fevent"].name == "ping"
    assert report.channels == ("*",)


async def test_results_lists_every_answer(manager: Manager) -> None:
    class ListAnswer(Component):
        def ping(self) -> list[int]:
            return [1, 2]

    manager += ListAnswer()
    value = manager.fire(Ping())
    assert await value == [1, 2]
    assert value.results == [[1, 2]]
    Recorder([], "second").register(manager)
    value = manager.fire(Ping())
    await value
    assert value.results == [[1, 2], "second"]


async def test_expected_exceptions_skip_the_exception_event(
    manager: Manager, caplog: pytest.LogCaptureFixture
) -> None:
    class Expected(Exception):
        relays_exception_event = False

    reports: list[Any] = []

    class Raiser(Component):
        def ping(self) -> None:
            raise Expected("just control flow")

        @handler("exception", channel="*")
        def caught(self, *args: Any, **kwargs: Any) -> None:
            reports.append(args)

    manager += Raiser()
    with pytest.raises(Expected):
        await manager.fire(Ping())
    await drain(manager)
    assert reports == []


async def test_a_long_queue_yields_to_the_loop_between_batches(manager: Manager) -> None:
    seen: list[str] = []

    class Busy(Component):
        def item(self, number: int) -> None:
            if number in (0, 2999):
                seen.append(f"event {number}")

    manager += Busy()
    last = None
    for number in range(3000):
        last = manager.fire(Event.create("item", number))
    asyncio.get_running_loop().call_soon(seen.append, "loop callback")
    await last
    assert seen.index("loop callback") < seen.index("event 2999")


async def test_a_stopped_event_can_be_fired_again(manager: Manager) -> None:
    calls: list[str] = []

    class Twice(BaseComponent):
        @handler("ping", priority=1)
        def first(self, event: Event) -> None:
            calls.append("first")
            event.stop()

        @handler("ping")
        def second(self) -> None:
            calls.append("second")

    manager += Twice()
    event = Ping()
    await manager.fire(event)
    assert event.stopped
    await manager.fire(event)
    assert calls == ["first", "first"]


async def test_priorities_survive_registration_before_start() -> None:
    order: list[str] = []

    class Listener(Component):
        def item(self, label: str) -> None:
            order.append(label)

    child = Listener()
    low = Event.create("item", "low")
    high = Event.create("item", "high")
    high.priority = 5
    child.fire(low)
    child.fire(high)
    root = Manager()
    root += child
    async with root:
        await root.wait(high, timeout=1)
        await root.wait(low, timeout=1)
    assert order == ["high", "low"]


async def test_async_handlers_in_the_middle_with_kwargs_and_errors(manager: Manager) -> None:
    seen: list[Any] = []

    class Mixed(BaseComponent):
        @handler("job", priority=2)
        async def failing(self, *, size: int) -> None:
            seen.append(("failing", size))
            raise ValueError("async failure")

        @handler("job", priority=1)
        def plain(self, *, size: int) -> int:
            seen.append(("plain", size))
            return size

        @handler("exception", channel="*")
        def quiet(self, *args: Any, **kwargs: Any) -> None:
            seen.append("reported")

    manager += Mixed()
    with pytest.raises(ValueError, match="async failure"):
        await manager.fire(Event.create("job", size=3))
    await drain(manager)
    assert seen == [("failing", 3), ("plain", 3), "reported"]


async def test_async_handler_returning_a_value_and_chained_errors(manager: Manager) -> None:
    class Relay(Component):
        async def ping(self) -> Any:
            return self.fire(Event.create("pong"))

        def pong(self) -> str:
            return "pong!"

        def broken(self) -> None:
            raise KeyError("chained")

        def forward(self) -> Any:
            return self.fire(Event.create("broken"))

        @handler("exception", channel="*")
        def quiet(self, *args: Any, **kwargs: Any) -> None:
            pass

    manager += Relay()
    assert await manager.fire(Ping()) == "pong!"
    with pytest.raises(KeyError):
        await manager.fire(Event.create("forward"))
    done = manager.fire(Event.create("pong"))
    await done

    class Again(Component):
        def again(self) -> Any:
            return done  # already finished: taken at once

    manager += Again()
    assert await manager.fire(Event.create("again")) == "pong!"


async def test_waiting_on_a_channel(manager: Manager) -> None:
    class Both(Component):
        channel = "*"

        def tick(self, label: str) -> str:
            return label

    manager += Both()

    async def later() -> None:
        await asyncio.sleep(0.01)
        manager.fire(Event.create("tick", "elsewhere"), "other")
        await asyncio.sleep(0.01)
        manager.fire(Event.create("tick", "here"), "wanted")

    task = asyncio.create_task(later())
    assert await manager.wait("tick", "wanted", timeout=1) == "here"
    await task


async def test_call_on_an_idle_tree_answers_before_returning_and_schedules_nothing(
    manager: Manager,
) -> None:
    log: list[Any] = []
    Recorder(log).register(manager)
    await drain(manager)
    value = manager.call(Ping(1))
    assert value.done  # type: ignore[attr-defined]
    assert log == [("Recorder", (1,))]
    assert not manager._hub._flush_scheduled  # no loop iteration spent on it
    assert await value == "Recorder"


async def test_call_on_a_busy_tree_keeps_firing_order(manager: Manager) -> None:
    log: list[Any] = []
    Recorder(log).register(manager)
    await drain(manager)
    manager.fire(Ping("first"))
    value = manager.call(Ping("second"))
    assert not value.done  # type: ignore[attr-defined]
    assert await value == "Recorder"
    assert log == [("Recorder", ("first",)), ("Recorder", ("second",))]


async def test_events_fired_by_a_called_handler_run_afterwards(manager: Manager) -> None:
    log: list[Any] = []

    class Relay(Component):
        def ping(self, n: int) -> int:
            log.append(("ping", n))
            self.fire(Event.create("pong", n))
            return n

        def pong(self, n: int) -> None:
            log.append(("pong", n))

    Relay().register(manager)
    await drain(manager)
    value = manager.call(Ping(7))
    assert value.done  # type: ignore[attr-defined]
    assert log == [("ping", 7)]
    await drain(manager)
    assert log == [("ping", 7), ("pong", 7)]


async def test_call_with_complete_on_an_idle_tree_still_tracks_the_cascade(
    manager: Manager,
) -> None:
    log: list[Any] = []

    class Relay(Component):
        def ping(self) -> None:
            self.fire(Event.create("pong"))

        def pong(self) -> None:
            log.append("pong")

        def ping_complete(self, *args: Any) -> None:
            log.append("complete")

    Relay().register(manager)
    await drain(manager)
    event = Ping()
    event.complete = True
    await manager.call(event)
    await drain(manager)
    assert log == ["pong", "complete"]


async def test_listing_handlers_prepares_their_dispatch(manager: Manager) -> None:
    Recorder([]).register(manager)
    found = manager.handlers("ping", "*")
    assert [h.name for h in found] == ["ping"]
    assert manager.handlers("ping", "*") == found  # served from the cache
    assert ("ping", ("*",)) in manager._hub._plans
    assert await manager.fire(Ping(), "*") == "Recorder"


class Job(Event):
    pass


async def test_an_async_handler_runs_in_a_real_task(manager: Manager) -> None:
    """Eager or not, a handler's task is an asyncio task: timeouts, task groups and
    ``current_task()`` work in it, from its first step on."""
    seen: list[Any] = []

    class Worker(Component):
        async def job(self) -> str:
            seen.append(asyncio.current_task())
            async with asyncio.timeout(5):
                await asyncio.sleep(0)
            async with asyncio.TaskGroup() as group:
                inner = group.create_task(asyncio.sleep(0, result="inner"))
            seen.append(asyncio.current_task())
            return inner.result()

    manager += Worker()
    assert await manager.call(Job()) == "inner"
    assert isinstance(seen[0], asyncio.Task)
    assert seen[0] is seen[1]
    assert seen[0] is not asyncio.current_task()
    # Named after the handler it runs, for whoever lists tasks (asyncio.all_tasks()).
    assert (
        seen[0].get_name()
        == "relays handler test_an_async_handler_runs_in_a_real_task.<locals>.Worker.job"
    )


async def test_handler_tasks_are_made_as_asyncio_tasks_not_by_a_task_factory(
    manager: Manager,
) -> None:
    """A task factory on the loop decides how its tasks start (eagerly or not), which
    the dispatch must know; so handler tasks, plain or delivered, are ``asyncio.Task``
    made by relays itself, on every Python (the module docstring of _dispatch says why)."""
    loop = asyncio.get_running_loop()
    made: list[Any] = []

    def factory(loop: asyncio.AbstractEventLoop, coroutine: Any, **kwargs: Any) -> Any:
        made.append(coroutine)
        return asyncio.Task(coroutine, loop=loop, **kwargs)

    seen: list[Any] = []

    class Worker(Component):
        async def job(self) -> str:
            seen.append(asyncio.current_task())
            await asyncio.sleep(0)
            return "done"

    manager += Worker()
    await drain(manager)
    previous = loop.get_task_factory()
    loop.set_task_factory(factory)
    try:
        assert await manager.call(Job()) == "done"
        task = manager.deliver_task(Job, (manager.channel,))
        assert task is not None
        await task
    finally:
        loop.set_task_factory(previous)
    assert made == []
    assert len(seen) == 2
    assert all(type(task) is asyncio.Task for task in seen)


async def test_a_called_handler_starts_in_its_own_task_not_the_callers(
    manager: Manager,
) -> None:
    """``call()`` on an idle tree dispatches inside the caller's task. An async
    handler's first step must still run in a task of its own: an ``asyncio.timeout``
    entered there would otherwise cancel the caller on expiry. (Why relays does not
    drive a handler's first step inside the dispatch on 3.11: docs/explanation/design.rst.)"""
    seen: list[Any] = []

    class Worker(Component):
        async def job(self) -> str:
            seen.append(asyncio.current_task())
            async with asyncio.timeout(5):
                seen.append(asyncio.current_task())
                await asyncio.sleep(0)
            return "done"

    manager += Worker()
    await drain(manager)
    assert await manager.call(Job()) == "done"
    caller = asyncio.current_task()
    assert isinstance(seen[0], asyncio.Task)
    assert seen == [seen[0], seen[0]]
    assert seen[0] is not caller


async def test_a_handler_task_can_be_cancelled(manager: Manager) -> None:
    started = asyncio.Event()
    cancelled = asyncio.Event()

    class Hangs(Component):
        async def job(self) -> None:
            started.set()
            try:
                await asyncio.Event().wait()
            except asyncio.CancelledError:
                cancelled.set()
                raise

    manager += Hangs()
    value = manager.fire(Job())
    await started.wait()
    (task,) = manager._hub._tasks
    task.cancel()
    await cancelled.wait()
    with pytest.raises(asyncio.CancelledError):
        await value
    assert not manager._hub._tasks


@pytest.mark.skipif(not EAGER_TASKS, reason="tasks start eagerly on Python 3.12+ only")
async def test_an_async_handler_that_never_suspends_finishes_inside_the_dispatch(
    manager: Manager,
) -> None:
    class Quick(Component):
        async def job(self) -> str:
            return "done"

    manager += Quick()
    await drain(manager)
    value = manager.call(Job())  # an idle tree dispatches a call at once
    assert isinstance(value, Value)
    assert value.done  # nothing was scheduled: no loop turn needed
    assert value.result == "done"
    assert not manager._hub.busy


@pytest.mark.skipif(not EAGER_TASKS, reason="tasks start eagerly on Python 3.12+ only")
async def test_stop_before_the_first_await_needs_no_pause_with_eager_tasks(
    manager: Manager,
) -> None:
    log: list[str] = []

    class First(Component):
        @handler("job", priority=1)
        async def first(self, event: Event) -> None:
            event.stop()
            log.append("first")
            await asyncio.sleep(0)

        @handler("job")
        def second(self) -> None:
            log.append("second")

    manager += First()
    await drain(manager)
    value = manager.call(Job())
    assert log == ["first"]  # stopped inside the dispatch
    assert not manager._hub._paused
    await value
    assert log == ["first"]


@pytest.mark.skipif(EAGER_TASKS, reason="without eager tasks (3.11) the dispatch pauses")
async def test_without_eager_tasks_the_dispatch_pauses_for_the_first_step(
    manager: Manager,
) -> None:
    log: list[str] = []

    class First(Component):
        @handler("job", priority=1)
        async def first(self, event: Event) -> None:
            event.stop()
            log.append("first")
            await asyncio.sleep(0)

        @handler("job")
        def second(self) -> None:
            log.append("second")

    manager += First()
    await drain(manager)
    value = manager.call(Job())
    assert log == []  # its first step runs on the next loop turn
    assert manager._hub._paused
    await value
    assert log == ["first"]


async def test_a_dispatch_resumed_after_the_tree_detached_keeps_its_event_for_the_next_attach(
    manager: Manager, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A stop can detach the Hub while a paused dispatch's resume is still queued on the
    # loop (seen at shutdown on uvloop): the resume must not dispatch without a loop.
    monkeypatch.setattr("relays._dispatch.EAGER_TASKS", False)
    log: list[str] = []

    class Pausing(Component):
        @handler("job", priority=1)
        async def first(self) -> None:
            log.append("first")

        @handler("job")
        async def second(self) -> None:
            log.append("second")

    loop = asyncio.get_running_loop()
    errors: list[dict[str, Any]] = []
    loop.set_exception_handler(lambda _loop, context: errors.append(context))
    manager += Pausing()
    await drain(manager)
    value = manager.call(Job())
    assert manager._hub._paused  # the resume is queued on the loop
    manager._hub.detach()
    after_resume = loop.create_future()
    loop.call_soon(after_resume.set_result, None)  # callbacks run in order: after the resume
    await after_resume
    assert errors == []
    assert log == ["first"]
    manager._hub.attach(loop)
    await value
    assert log == ["first", "second"]


@pytest.mark.parametrize("follow", ["nothing", "success", "notify"])
async def test_done_callbacks_see_the_finished_value_whichever_path_finishes_it(
    manager: Manager, follow: str
) -> None:
    """An event whose value has done-callbacks (``call``, relays-http's requests) is
    finished by ``_drain``'s inlined copy when nothing else follows it, and by
    ``_finished`` when something does (a ``_success`` event, ``notify``): both set the
    result and run the callbacks once, in order, with the value done."""
    Recorder([], label="a").register(manager)
    Recorder([], label="b").register(manager)
    seen: list[tuple[str, bool, Any]] = []
    event = Ping()
    event.success = follow == "success"
    event.notify = follow == "notify"
    value = manager.fire(event)
    value.add_done_callback(lambda v: seen.append(("first", v.done, v.result)))
    value.add_done_callback(lambda v: seen.append(("second", v.done, v.result)))
    await drain(manager)
    assert seen == [("first", True, ["a", "b"]), ("second", True, ["a", "b"])]
