"""The Hub owns a tree's dispatch: both copies of the fire path behave alike, and no
state of one tree (an open ``complete`` tracker) changes how another tree dispatches."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from typing import Any

import pytest

from relays import NOT_DELIVERED, BaseComponent, Component, Event, Value, handler
from relays import _dispatch as dispatch
from relays.testing import Manager, drain

Fire = Callable[[BaseComponent, Event], Value]


def through_component(component: BaseComponent, event: Event, *channels: Any) -> Value:
    """``BaseComponent.fire``: the common case runs its inlined copy of the fast path."""
    return component.fire(event, *channels)


def through_hub(component: BaseComponent, event: Event, *channels: Any) -> Value:
    """``Hub.fire``: the one full path, which the inlined copy stands in for."""
    if not channels:
        channels = getattr(event, "channels", ()) or (component.channel,)
    return component._hub.fire(event, channels)


@pytest.fixture(params=[through_component, through_hub], ids=["component", "hub"])
def fire(request: pytest.FixtureRequest) -> Fire:
    return request.param  # type: ignore[no-any-return]


class Ping(Event):
    pass


class Link(Event):
    pass


class Answers(Component):
    def __init__(self, log: list[Any], fire: Fire) -> None:
        super().__init__()
        self.log = log
        self.fire_with = fire

    def ping(self, i: int) -> int:
        self.log.append(i)
        return i * 2

    def link(self, i: int) -> int:
        self.log.append(("link", i))
        if i:
            self.fire_with(self, Link(i - 1))
        return i

    def link_complete(self, event: Event, result: Any) -> None:
        self.log.append(("complete", event.args[0]))


async def test_values_and_order_are_the_same_through_both_copies(
    manager: Manager, fire: Fire
) -> None:
    log: list[Any] = []
    manager += Answers(log, fire)
    values = [fire(manager, Ping(i)) for i in range(3)]
    ranked = Ping(9)
    ranked.priority = 5
    values.append(fire(manager, ranked))
    assert [await value for value in values] == [0, 2, 4, 18]
    assert log == [9, 0, 1, 2]  # the ranked event first, then firing order


async def test_a_stopped_event_fires_again_through_both_copies(
    manager: Manager, fire: Fire
) -> None:
    class Stopper(Component):
        @handler("ping", priority=1)
        def first(self, event: Event, i: int) -> None:
            event.stop()

    log: list[Any] = []
    manager += Answers(log, fire)
    manager += Stopper()
    event = Ping(1)
    await fire(manager, event)
    assert event.stopped
    assert log == []
    await fire(manager, event)  # fired again: not stopped until its handler says so
    assert log == []


async def test_complete_counts_the_cascade_through_both_copies(
    manager: Manager, fire: Fire
) -> None:
    log: list[Any] = []
    manager += Answers(log, fire)
    tracked = Link(2)
    tracked.complete = True
    fire(manager, tracked)
    await manager.wait("link_complete", timeout=2)
    assert log == [("link", 2), ("link", 1), ("link", 0), ("complete", 2)]
    assert manager._hub.open_trackers == 0


def test_both_copies_reject_what_is_not_an_event(fire: Fire) -> None:
    with pytest.raises(TypeError, match="takes an Event"):
        fire(Manager(), "ping")  # type: ignore[arg-type]


def test_both_copies_fire_from_another_thread(manager: Manager, fire: Fire) -> None:
    """(The fixture runs the manager in a thread of its own.)"""
    log: list[Any] = []
    manager += Answers(log, fire)
    values: list[Value] = []
    thread = threading.Thread(target=lambda: values.append(fire(manager, Ping(4))))
    thread.start()
    thread.join()
    assert values[0].get(timeout=5) == 8


class Read(Event):
    pass


class Sink(Component):
    channel = "sink"

    def read(self, data: bytes) -> bytes:
        return data.upper()


async def test_a_tracker_on_a_tree_that_never_runs_does_not_slow_other_trees(
    manager: Manager,
) -> None:
    """Regression (#14): the count of open ``complete`` trackers was process-wide, so a
    tracker fired on a tree that never ran kept every other tree on the slow path and
    turned ``deliver`` off for good."""
    never_runs = Component()
    forgotten = Link(1)
    forgotten.complete = True
    never_runs.fire(forgotten)
    assert never_runs._hub.open_trackers == 1

    manager += Sink()
    await drain(manager)
    assert manager._hub.open_trackers == 0
    assert manager.deliver(Read, ("sink",), b"hi") == b"HI"


async def test_open_trackers_move_with_a_tree_that_joins_another(manager: Manager) -> None:
    log: list[Any] = []
    subtree = Component()
    Answers(log, through_component).register(subtree)
    tracked = Link(1)
    tracked.complete = True
    subtree.fire(tracked)  # queued: the subtree does not run on its own
    assert subtree._hub.open_trackers == 1
    manager += subtree
    assert manager._hub.open_trackers == 1
    await manager.wait("link_complete", timeout=2)
    assert log == [("link", 1), ("link", 0), ("complete", 1)]
    assert manager._hub.open_trackers == 0
    assert manager.deliver(Read, ("sink",), b"x") is None  # nobody listens: nothing to do


async def test_deliver_is_the_hubs(manager: Manager) -> None:
    manager += Sink()
    await drain(manager)
    assert BaseComponent.deliver is dispatch.deliver  # one copy, in the hub's module
    assert manager.deliver(Read, ("sink",), b"hi") == b"HI"
    assert manager.deliver(Ping, ("sink",), 1) is None  # nobody listens
    busy = Ping(1)
    busy.priority = 1
    manager.fire(busy)  # queued, not dispatched yet: the tree is not idle
    assert manager.deliver(Read, ("sink",), b"hi") is NOT_DELIVERED
    await drain(manager)


class Hold(Event):
    pass


class Holder(Component):
    """An async handler that stays suspended until released: its ``complete`` tracker
    stays open while the tree is otherwise idle."""

    def __init__(self) -> None:
        super().__init__()
        self.started = asyncio.Event()
        self.release = asyncio.Event()

    async def hold(self) -> None:
        self.started.set()
        await self.release.wait()


@pytest.mark.parametrize("shape", ["plain", "ranked", "stopped", "complete", "tracker_open"])
async def test_call_on_an_idle_tree_runs_now_through_both_copies(
    manager: Manager, shape: str
) -> None:
    """``Hub.call_now`` inlines ``fire``'s common case (a plain event); every other
    shape goes through ``Hub.fire``. Both dispatch the event before ``call`` returns,
    with the same result, and neither leaves a flush scheduled for it."""
    log: list[Any] = []
    manager += Answers(log, through_component)
    holder = Holder()
    manager += holder
    await drain(manager)
    event: Event = Ping(3)
    if shape == "ranked":
        event.priority = 5
    elif shape == "stopped":
        event.stop()
    elif shape == "complete":
        event = Link(0)
        event.complete = True
    elif shape == "tracker_open":
        held = Hold()
        held.complete = True
        manager.fire(held)
        await holder.started.wait()
        assert manager._hub.open_trackers == 1
    pending = manager.call(event)
    assert log == ([("link", 0)] if shape == "complete" else [3])  # ran inside call()
    if shape != "complete":  # (its ``link_complete`` follows, on a flush)
        assert not manager._hub._flush_scheduled
    assert await pending == (0 if shape == "complete" else 6)
    if shape == "complete":
        await manager.wait("link_complete", timeout=2)
        assert log == [("link", 0), ("complete", 0)]
    holder.release.set()
    await drain(manager)
    assert manager._hub.open_trackers == 0
