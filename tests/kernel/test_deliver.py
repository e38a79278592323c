"""``deliver``: a handler called in place of an event, only where nobody can tell."""

from __future__ import annotations

import asyncio
import io
import threading
from typing import Any

from relays import NOT_DELIVERED, BaseComponent, Component, Debugger, Event, handler
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
