"""How long events and values live: freed at once when nobody can see them, kept
whole when somebody holds either; and the ``complete`` bookkeeping that ``fire``
skips while no tracker is open."""

from __future__ import annotations

import asyncio
import gc
import weakref
from collections.abc import Iterator
from typing import Any

import pytest

from relays import Component, Event
from relays._lifetimes import ALONE, counts_trusted, refcount
from relays.testing import Manager, drain


class Link(Event):
    """``link(i)``: fires ``link(i - 1)`` until 0."""


class Chain(Component):
    def __init__(self) -> None:
        super().__init__()
        self.seen: list[weakref.ref[Event]] = []

    def link(self, event: Event, i: int) -> int:
        self.seen.append(weakref.ref(event))
        if i:
            self.fire(Link(i - 1))
        return i


@pytest.fixture
def no_cycle_collector() -> Iterator[None]:
    """Only reference counting frees objects while the test runs."""
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


@pytest.mark.skipif(not counts_trusted, reason="this interpreter gives no usable reference counts")
@pytest.mark.usefixtures("no_cycle_collector")
async def test_events_nobody_holds_are_freed_without_the_cycle_collector(
    manager: Manager,
) -> None:
    chain = Chain()
    manager += chain
    manager.fire(Link(50))
    await drain(manager)
    assert len(chain.seen) == 51
    assert [ref() for ref in chain.seen] == [None] * 51


async def test_a_held_event_keeps_its_finished_value(manager: Manager) -> None:
    manager += Chain()
    held = Link(0)
    manager.fire(held)
    await drain(manager)
    assert held.value is not None
    assert held.value.done
    assert held.value.result == 0
    assert held.done


async def test_a_held_value_keeps_its_event(manager: Manager) -> None:
    manager += Chain()
    value = manager.fire(Link(0))
    await drain(manager)
    assert value.done
    assert value.result == 0
    assert isinstance(value.event, Link)
    assert value.event.value is value


async def test_the_values_of_a_chain_held_by_a_handler_stay_whole(manager: Manager) -> None:
    kept: list[Any] = []

    class Keeper(Component):
        def link(self, i: int) -> int:
            if i:
                kept.append(self.fire(Link(i - 1)))
            return i * 10

    manager += Keeper()
    manager.fire(Link(3))
    await drain(manager)
    assert [value.result for value in kept] == [20, 10, 0]
    assert all(value.event.value is value for value in kept)


async def test_tracking_is_counted_while_a_complete_cascade_runs(manager: Manager) -> None:
    before = manager._hub.open_trackers
    during: list[int] = []

    class Cascade(Component):
        def link(self, i: int) -> None:
            during.append(manager._hub.open_trackers)
            if i:
                self.fire(Link(i - 1))

        def link_complete(self, event: Event, result: Any) -> None:
            during.append(-1)

    manager += Cascade()
    outer = Link(2)
    outer.complete = True
    manager.fire(outer)
    await manager.wait("link_complete", timeout=2)
    assert during == [before + 1] * 3 + [-1]
    assert manager._hub.open_trackers == before


async def test_nested_complete_trackers_each_see_their_cascade(manager: Manager) -> None:
    finished: list[int] = []

    class Nested(Component):
        def link(self, i: int) -> None:
            if i:
                inner = Link(i - 1)
                inner.complete = True  # a tracker inside another tracker's cascade
                self.fire(inner)

        def link_complete(self, event: Event, result: Any) -> None:
            finished.append(event.args[0])

    before = manager._hub.open_trackers
    manager += Nested()
    outer = Link(2)
    outer.complete = True
    manager.fire(outer)
    await drain(manager)
    # The three cascades end with the same event (link 0), outermost tracker first.
    assert finished == [2, 1, 0]
    assert manager._hub.open_trackers == before


@pytest.mark.skipif(not counts_trusted, reason="this interpreter gives no usable reference counts")
@pytest.mark.usefixtures("no_cycle_collector")
async def test_events_of_async_handlers_are_freed_without_the_cycle_collector(
    manager: Manager,
) -> None:
    seen: list[weakref.ref[Event]] = []

    class Suspends(Component):
        async def link(self, event: Event, i: int) -> None:
            seen.append(weakref.ref(event))
            await asyncio.sleep(0)

    manager += Suspends()
    for i in range(20):
        manager.fire(Link(i))
    await drain(manager)
    assert len(seen) == 20
    assert [ref() for ref in seen] == [None] * 20


async def test_an_error_report_is_not_counted_in_the_failed_events_cascade(
    manager: Manager,
) -> None:
    """The ``exception`` event of a tracked handler is fired outside the cascade, and
    so is what its own async handler fires."""
    order: list[str] = []

    class Slow(Event):
        pass

    class Failing(Component):
        async def link(self, i: int) -> None:
            await asyncio.sleep(0)
            raise ValueError("boom")

        async def exception(self, *args: Any, **kwargs: Any) -> None:
            self.fire(Slow())

        async def slow(self) -> None:
            await asyncio.sleep(0.05)
            order.append("slow")

        def link_complete(self, event: Event, result: Any) -> None:
            order.append("complete")

    manager += Failing()
    tracked = Link(1)
    tracked.complete = True
    manager.fire(tracked)
    await manager.wait("link_complete", timeout=2)
    await drain(manager)
    assert order == ["complete", "slow"]


@pytest.mark.skipif(not counts_trusted, reason="this interpreter gives no usable reference counts")
@pytest.mark.usefixtures("no_cycle_collector")
async def test_events_with_done_callbacks_are_freed_once_the_callbacks_ran(
    manager: Manager,
) -> None:
    manager += Chain()
    results: list[Any] = []
    refs = []
    for _ in range(5):
        event = Link(0)
        refs.append(weakref.ref(event))
        manager.fire(event).add_done_callback(lambda value: results.append(value.result))
        del event
    await drain(manager)
    assert results == [0] * 5
    assert [ref() for ref in refs] == [None] * 5


async def test_a_done_callback_that_keeps_the_value_keeps_it_whole(manager: Manager) -> None:
    manager += Chain()
    kept: list[Any] = []
    manager.fire(Link(0)).add_done_callback(kept.append)
    await drain(manager)
    (value,) = kept
    assert value.done
    assert value.result == 0
    assert value.event.value is value


def test_alone_is_measured_for_one_local_and_one_attribute() -> None:
    """The count the dispatcher compares with, on whatever interpreter runs the tests."""
    if not counts_trusted:
        assert ALONE == -1  # matches no count: nothing is ever dropped
        return

    class Holder:
        ref: object = None

    holder = Holder()
    probe = Holder()
    holder.ref = probe
    assert refcount(probe) == ALONE
    also = probe
    assert refcount(probe) == ALONE + 1  # anybody else holding it is seen
    del also
    holder.ref = None
    assert refcount(probe) == ALONE - 1
