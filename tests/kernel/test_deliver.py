"""``deliver`` and ``deliver_task``: a handler called (or its task started) in place of an
event, only where nobody can tell."""

from __future__ import annotations

import asyncio
import io
import threading
from typing import Any

from relays import NOT_DELIVERED, BaseComponent, Component, Debugger, Event, handler
from relays._dispatch import EAGER_TASKS
from relays.testing import Manager, drain

CHANNELS = ("line",)


class Data(Event):
    """What a transport would fire: ``data(sock, payload)``."""


class Noted(Event):
    pass


class Listener(Component):
    channel = "line"

    def __init__(self, log: list[Any]) -> None:
        super().__init__()
        self.log = log

    def data(self, sock: Any, payload: bytes) -> bytes:
        self.log.append(("data", sock, payload))
        return payload.upper()


async def ready(manager: Manager, *components: BaseComponent) -> None:
    for component in components:
        component.register(manager)
    await drain(manager)


async def test_the_sole_handler_runs_at_once_and_its_result_comes_back(
    manager: Manager,
) -> None:
    log: list[Any] = []
    await ready(manager, Listener(log))
    assert manager.deliver(Data, CHANNELS, "sock", b"hi") == b"HI"
    assert log == [("data", "sock", b"hi")]
    assert not manager._hub._flush_scheduled  # nothing was queued for it


async def test_nobody_listening_is_delivered_as_nothing(manager: Manager) -> None:
    await drain(manager)
    assert manager.deliver(Data, CHANNELS, "sock", b"hi") is None


async def test_a_waiter_for_the_name_gets_a_real_event(manager: Manager) -> None:
    log: list[Any] = []
    await ready(manager, Listener(log))
    waiting = asyncio.ensure_future(manager.wait("data", "line"))
    await asyncio.sleep(0)
    assert manager.deliver(Data, CHANNELS, "sock", b"hi") is NOT_DELIVERED
    assert log == []
    manager.fire(Data("sock", b"hi"), "line")
    assert await asyncio.wait_for(waiting, 1) == b"HI"
    # A waiter for another name changes nothing.
    other = asyncio.ensure_future(manager.wait("something_else"))
    await asyncio.sleep(0)
    assert manager.deliver(Data, CHANNELS, "sock", b"x") == b"X"
    other.cancel()


async def test_more_than_one_handler_means_an_event(manager: Manager) -> None:
    log: list[Any] = []
    await ready(manager, Listener(log), Listener(log))
    assert manager.deliver(Data, CHANNELS, "sock", b"hi") is NOT_DELIVERED
    assert log == []


async def test_the_debugger_sees_every_event_so_nothing_is_delivered(manager: Manager) -> None:
    log: list[Any] = []
    await ready(manager, Listener(log), Debugger(file=io.StringIO()))
    assert manager.deliver(Data, CHANNELS, "sock", b"hi") is NOT_DELIVERED


async def test_async_handlers_and_handlers_taking_the_event_get_events(
    manager: Manager,
) -> None:
    class Async(Component):
        channel = "line"

        async def data(self, sock: Any, payload: bytes) -> None:
            pass

    class TakesEvent(Component):
        channel = "other"

        def data(self, event: Event, sock: Any, payload: bytes) -> None:
            pass

    await ready(manager, Async(), TakesEvent())
    assert manager.deliver(Data, CHANNELS, "sock", b"hi") is NOT_DELIVERED
    assert manager.deliver(Data, ("other",), "sock", b"hi") is NOT_DELIVERED


async def test_classes_that_ask_for_follow_up_events_get_events(manager: Manager) -> None:
    class Succeeding(Event):
        name = "data"
        success = True

    class Urgent(Event):
        name = "data"
        priority = 5

    class Completing(Event):
        name = "data"
        complete = True

    log: list[Any] = []
    await ready(manager, Listener(log))
    for kind in (Succeeding, Urgent, Completing):
        assert manager.deliver(kind, CHANNELS, "sock", b"hi") is NOT_DELIVERED
    assert log == []


async def test_a_queued_event_keeps_its_place(manager: Manager) -> None:
    log: list[Any] = []
    await ready(manager, Listener(log))
    manager.fire(Data("sock", b"first"), "line")
    assert manager.deliver(Data, CHANNELS, "sock", b"second") is NOT_DELIVERED
    await drain(manager)
    assert log == [("data", "sock", b"first")]


async def test_nothing_is_delivered_while_another_event_is_dispatched(
    manager: Manager,
) -> None:
    outcomes: list[Any] = []
    log: list[Any] = []

    class Inner(Component):
        channel = "inner"

        def noted(self) -> None:
            outcomes.append(manager.deliver(Data, CHANNELS, "sock", b"inside"))

    await ready(manager, Listener(log), Inner())
    await manager.fire(Noted(), "inner")
    assert outcomes == [NOT_DELIVERED]


async def test_what_the_handler_fires_runs_before_deliver_returns_and_in_order(
    manager: Manager,
) -> None:
    order: list[str] = []

    class Relay(Component):
        channel = "line"

        def data(self, sock: Any, payload: bytes) -> None:
            order.append("data")
            value = self.call(Noted("called"))
            assert not value.done  # type: ignore[attr-defined]  # its turn comes after ours
            self.fire(Noted("fired"))
            assert self.deliver(Data, ("elsewhere",), sock, payload) is NOT_DELIVERED
            order.append("data done")

        def noted(self, label: str) -> None:
            order.append(label)

    await ready(manager, Relay())
    assert manager.deliver(Data, CHANNELS, "sock", b"hi") is None
    assert order == ["data", "data done", "called", "fired"]
    assert not manager._hub._flush_scheduled


async def test_a_long_cascade_goes_on_in_a_flush(manager: Manager) -> None:
    seen: list[int] = []

    class Fan(Component):
        channel = "line"

        def data(self, sock: Any, payload: bytes) -> None:
            for number in range(10):
                self.fire(Noted(number))

        def noted(self, number: int) -> None:
            seen.append(number)

    await ready(manager, Fan())
    manager._hub.batch = 4
    try:
        manager.deliver(Data, CHANNELS, "sock", b"hi")
        assert seen == [0, 1, 2, 3]
        assert manager._hub._flush_scheduled
        await drain(manager)
        assert seen == list(range(10))
    finally:
        manager._hub.batch = 512


async def test_a_failing_handler_is_reported_like_a_fired_event(manager: Manager) -> None:
    reports: list[Any] = []

    class Broken(Component):
        channel = "line"

        def data(self, sock: Any, payload: bytes) -> None:
            raise ValueError("bad payload")

    class Watcher(BaseComponent):
        @handler("exception", channel="*")
        def _on_exception(self, *args: Any, **kwargs: Any) -> None:
            reports.append((args[1], kwargs["fevent"], kwargs["handler"]))

    await ready(manager, Broken(), Watcher())
    assert manager.deliver(Data, CHANNELS, "sock", b"hi") is None
    await drain(manager)
    [(error, event, failed_handler)] = reports
    assert isinstance(error, ValueError)
    assert type(event) is Data
    assert event.args == ("sock", b"hi")
    assert event.channels == CHANNELS
    assert event.value.errors
    assert failed_handler.name == "data"
    # The tree goes on: the next one is delivered as usual.
    assert manager.deliver(Data, CHANNELS, "sock", b"again") is None


async def test_the_table_changing_is_seen_at_once(manager: Manager) -> None:
    log: list[Any] = []
    first = Listener(log)
    await ready(manager, first)
    assert manager.deliver(Data, CHANNELS, "sock", b"a") == b"A"
    second = Listener(log)
    await ready(manager, second)
    assert manager.deliver(Data, CHANNELS, "sock", b"b") is NOT_DELIVERED
    second.unregister()
    await drain(manager)
    assert manager.deliver(Data, CHANNELS, "sock", b"c") == b"C"


async def test_an_open_complete_tracker_means_events(manager: Manager) -> None:
    log: list[Any] = []
    release = asyncio.Event()

    class Slow(Component):
        channel = "slow"

        async def noted(self) -> None:
            await release.wait()

    await ready(manager, Listener(log), Slow())
    tracked = Noted()
    tracked.complete = True
    manager.fire(tracked, "slow")
    await asyncio.sleep(0.01)
    assert manager.deliver(Data, CHANNELS, "sock", b"hi") is NOT_DELIVERED
    release.set()
    await drain(manager)
    assert manager.deliver(Data, CHANNELS, "sock", b"hi") == b"HI"


async def test_other_threads_and_trees_not_running_fire(manager: Manager) -> None:
    log: list[Any] = []
    await ready(manager, Listener(log))
    outcome: list[Any] = []
    thread = threading.Thread(
        target=lambda: outcome.append(manager.deliver(Data, CHANNELS, "sock", b"hi"))
    )
    thread.start()
    thread.join()
    assert outcome == [NOT_DELIVERED]
    idle = BaseComponent()
    Listener(log).register(idle)
    assert idle.deliver(Data, CHANNELS, "sock", b"hi") is NOT_DELIVERED
    assert log == []


# -- deliver_task: the same for one ``async def`` handler -----------------------------


class AsyncListener(Component):
    channel = "line"

    def __init__(self, log: list[Any], release: asyncio.Event | None = None) -> None:
        super().__init__()
        self.log = log
        self.release = release

    async def data(self, sock: Any, payload: bytes) -> bytes:
        self.log.append(("first step", asyncio.current_task()))
        if self.release is not None:
            await self.release.wait()
        await asyncio.sleep(0)
        self.log.append(("done", asyncio.current_task()))
        return payload.upper()


async def test_the_sole_async_handler_gets_a_task_of_its_own(manager: Manager) -> None:
    log: list[Any] = []
    await ready(manager, AsyncListener(log))
    task = manager.deliver_task(Data, CHANNELS, "sock", b"hi")
    assert isinstance(task, asyncio.Task)
    assert task is not asyncio.current_task()
    assert task.get_name().startswith("relays handler ")
    if EAGER_TASKS:
        assert log == [("first step", task)]  # it ran as far as it could, in the call
    assert not manager._hub._flush_scheduled  # nothing was queued for it
    assert await task == b"HI"
    assert log == [("first step", task), ("done", task)]
    assert not manager._hub.busy


async def test_a_delivered_task_can_use_timeouts_and_task_groups(manager: Manager) -> None:
    class Scoped(Component):
        channel = "line"

        async def data(self, sock: Any, payload: bytes) -> str:
            async with asyncio.timeout(5):
                await asyncio.sleep(0)
            async with asyncio.TaskGroup() as group:
                inner = group.create_task(asyncio.sleep(0, result="inner"))
            return inner.result()

    await ready(manager, Scoped())
    assert await manager.deliver_task(Data, CHANNELS, "sock", b"hi") == "inner"


async def test_plain_handlers_and_handlers_taking_the_event_are_not_tasks(
    manager: Manager,
) -> None:
    class TakesEvent(Component):
        channel = "other"

        async def data(self, event: Event, sock: Any, payload: bytes) -> None:
            pass

    log: list[Any] = []
    await ready(manager, Listener(log), TakesEvent())
    assert manager.deliver_task(Data, CHANNELS, "sock", b"hi") is NOT_DELIVERED
    assert manager.deliver_task(Data, ("other",), "sock", b"hi") is NOT_DELIVERED
    assert manager.deliver_task(Data, ("nobody",), "sock", b"hi") is None
    assert log == []


async def test_a_task_is_delivered_only_where_an_event_would_run_the_same(
    manager: Manager,
) -> None:
    class Succeeding(Event):
        name = "data"
        success = True

    log: list[Any] = []
    await ready(manager, AsyncListener(log))
    assert manager.deliver_task(Succeeding, CHANNELS, "sock", b"hi") is NOT_DELIVERED
    # Somebody waits for the name.
    waiting = asyncio.ensure_future(manager.wait("data", "line"))
    await asyncio.sleep(0)
    assert manager.deliver_task(Data, CHANNELS, "sock", b"hi") is NOT_DELIVERED
    waiting.cancel()
    await asyncio.sleep(0)
    # An event is queued: it comes first.
    manager.fire(Noted(), "line")
    assert manager.deliver_task(Data, CHANNELS, "sock", b"hi") is NOT_DELIVERED
    await drain(manager)
    # Two handlers.
    await ready(manager, AsyncListener(log))
    assert manager.deliver_task(Data, CHANNELS, "sock", b"hi") is NOT_DELIVERED
    # Another thread.
    outcome: list[Any] = []
    thread = threading.Thread(
        target=lambda: outcome.append(manager.deliver_task(Data, CHANNELS, "sock", b"hi"))
    )
    thread.start()
    thread.join()
    assert outcome == [NOT_DELIVERED]
    assert log == []


async def test_an_open_complete_tracker_means_an_event(manager: Manager) -> None:
    log: list[Any] = []
    release = asyncio.Event()

    class Slow(Component):
        channel = "slow"

        async def noted(self) -> None:
            await release.wait()

    await ready(manager, AsyncListener(log), Slow())
    tracked = Noted()
    tracked.complete = True
    manager.fire(tracked, "slow")
    await asyncio.sleep(0)
    assert manager.deliver_task(Data, CHANNELS, "sock", b"hi") is NOT_DELIVERED
    release.set()
    await drain(manager)
    task = manager.deliver_task(Data, CHANNELS, "sock", b"hi")
    assert await task == b"HI"


async def test_what_the_first_step_fires_waits_its_turn(manager: Manager) -> None:
    order: list[str] = []

    class Relay(Component):
        channel = "line"

        async def data(self, sock: Any, payload: bytes) -> None:
            order.append("data")
            self.fire(Noted("fired"))
            assert self.deliver(Data, ("elsewhere",), sock, payload) is NOT_DELIVERED
            order.append("first step done")
            await asyncio.sleep(0)
            order.append("data done")

        def noted(self, label: str) -> None:
            order.append(label)

    await ready(manager, Relay())
    task = manager.deliver_task(Data, CHANNELS, "sock", b"hi")
    if EAGER_TASKS:  # the first step and what it fired, before the call returned
        assert order == ["data", "first step done", "fired"]
    await task
    await drain(manager)
    assert order == ["data", "first step done", "fired", "data done"]


async def test_a_failing_async_handler_is_reported_like_a_fired_event(
    manager: Manager,
) -> None:
    reports: list[Any] = []

    class Broken(Component):
        channel = "line"

        async def data(self, sock: Any, payload: bytes) -> None:
            await asyncio.sleep(0)
            raise ValueError("bad payload")

    class Watcher(BaseComponent):
        @handler("exception", channel="*")
        def _on_exception(self, *args: Any, **kwargs: Any) -> None:
            reports.append((args[1], kwargs["fevent"], kwargs["handler"]))

    await ready(manager, Broken(), Watcher())
    task = manager.deliver_task(Data, CHANNELS, "sock", b"hi")
    assert await task is None
    await drain(manager)
    [(error, event, failed_handler)] = reports
    assert isinstance(error, ValueError)
    assert type(event) is Data
    assert event.args == ("sock", b"hi")
    assert event.channels == CHANNELS
    assert event.value.errors
    assert failed_handler.name == "data"


async def test_a_handler_that_cannot_be_called_is_reported_at_once(manager: Manager) -> None:
    reports: list[Any] = []

    class Watcher(BaseComponent):
        @handler("exception", channel="*")
        def _on_exception(self, *args: Any, **kwargs: Any) -> None:
            reports.append(args[1])

    await ready(manager, AsyncListener([]), Watcher())
    assert manager.deliver_task(Data, CHANNELS, "too few arguments") is None
    await drain(manager)
    [error] = reports
    assert isinstance(error, TypeError)


async def test_a_delivered_task_is_cancelled_when_the_tree_stops() -> None:
    started = asyncio.Event()
    cancelled = asyncio.Event()

    class Hangs(Component):
        channel = "line"

        async def data(self, sock: Any, payload: bytes) -> None:
            started.set()
            try:
                await asyncio.Event().wait()
            except asyncio.CancelledError:
                cancelled.set()
                raise

    app = Manager()
    app += Hangs()
    async with app:
        await drain(app)
        task = app.deliver_task(Data, CHANNELS, "sock", b"hi")
        await started.wait()
        assert app._hub.busy
    assert cancelled.is_set()
    assert task.cancelled()


async def test_system_exit_in_a_delivered_task_stops_the_tree() -> None:
    stopping = asyncio.Event()

    class Quits(Component):
        channel = "line"

        async def data(self, sock: Any, payload: bytes) -> None:
            await asyncio.sleep(0)
            raise SystemExit(3)

        @handler("stopped", channel="*")
        def _on_stopped(self, component: BaseComponent) -> None:
            stopping.set()

    app = Manager()
    app += Quits()
    async with app:
        await drain(app)
        task = app.deliver_task(Data, CHANNELS, "sock", b"hi")
        assert await task is None
        await stopping.wait()
