"""Timers fire after seconds (not loop ticks), once or periodically."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Any

import pytest

from relays import Component, Event, Timer
from relays.testing import Manager


class Counter(Component):
    def __init__(self) -> None:
        super().__init__()
        self.times: list[float] = []

    def tick(self) -> None:
        self.times.append(asyncio.get_running_loop().time())


async def test_a_timer_fires_once_after_its_interval(manager: Manager) -> None:
    counter = Counter().register(manager)
    start = asyncio.get_running_loop().time()
    Timer(0.05, Event.create("tick")).register(manager)
    await manager.wait("tick", timeout=2)
    await asyncio.sleep(0.1)
    assert len(counter.times) == 1
    assert counter.times[0] - start >= 0.045


async def test_a_persistent_timer_repeats_until_unregistered(manager: Manager) -> None:
    counter = Counter().register(manager)
    timer = Timer(0.01, Event.create("tick"), persist=True).register(manager)
    for _ in range(3):
        await manager.wait("tick", timeout=2)
    timer.unregister()
    await asyncio.sleep(0.05)
    count = len(counter.times)
    await asyncio.sleep(0.05)
    assert count >= 3
    assert len(counter.times) == count


async def test_reset_restarts_the_countdown(manager: Manager) -> None:
    # No wall-clock margin: the tick that counts is the first one due after the
    # reset. A machine that stalls past the first deadline before the reset gets an
    # early tick too (fired, or still queued, when reset() runs); the loop waits past
    # it. A reset that did not restart the countdown would tick once, 0.2 s early,
    # and the wait would time out.
    interval = 0.3
    loop = asyncio.get_running_loop()
    counter = Counter().register(manager)
    timer = Timer(interval, Event.create("tick")).register(manager)
    await asyncio.sleep(0.1)
    reset_at = loop.time()
    timer.reset()
    due = reset_at + interval - 0.01  # uvloop's timers keep whole milliseconds
    while not counter.times or counter.times[-1] < due:
        await manager.wait("tick", timeout=10)
    assert len([when for when in counter.times if when >= due]) == 1


async def test_cancel_prevents_firing(manager: Manager) -> None:
    counter = Counter().register(manager)
    timer = Timer(0.02, Event.create("tick")).register(manager)
    timer.cancel()
    await asyncio.sleep(0.06)
    assert counter.times == []


async def test_a_timer_registered_before_start_waits_for_started() -> None:
    app = Counter()
    Timer(0.01, Event.create("tick")).register(app)
    async with app:
        await app.wait("tick", timeout=2)
    assert len(app.times) == 1


async def test_datetime_and_channels(manager: Manager) -> None:
    fired: list[Any] = []

    class Target(Component):
        channel = "target"

        def tick(self, event: Event) -> None:
            fired.append(event.channels)

    manager += Target()
    when = datetime.now() + timedelta(milliseconds=20)
    Timer(when, Event.create("tick"), "target").register(manager)
    await manager.wait("tick", timeout=2)
    assert fired == [("target",)]


def test_negative_intervals_are_refused() -> None:
    with pytest.raises(ValueError, match="interval"):
        Timer(-1, Event.create("tick"))
