"""A handler that holds the event loop past the threshold is named in a warning, once.

The blocking handlers here block until the watchdog has spoken (a ``threading.Event``
set by a log handler, or its ``blocks_seen`` count), never for a length of time.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from relays import BLOCKED_LOOP_THRESHOLD, Component, Event
from relays._watchdog import blocked_loop_threshold, watchdog

#: Generous: these waits end when the watchdog speaks, long before this.
PATIENCE = 30


class Warnings(logging.Handler):
    """Collects the watchdog's warnings and lets a blocked loop wait for the next one."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []
        self.arrived = threading.Event()

    def emit(self, record: logging.LogRecord) -> None:
        if "held the event loop" in record.getMessage():
            self.messages.append(record.getMessage())
            self.arrived.set()


@pytest.fixture
def warnings(monkeypatch: pytest.MonkeyPatch) -> Iterator[Warnings]:
    monkeypatch.delenv("RELAYS_BLOCKED_LOOP_MS", raising=False)
    monkeypatch.setattr(watchdog, "_reported", set())  # "once" is per process
    collected = Warnings()
    logger = logging.getLogger("relays")
    logger.addHandler(collected)
    try:
        yield collected
    finally:
        logger.removeHandler(collected)


def blocks_until(condition: Callable[[], bool]) -> None:
    """Hold the calling thread (the loop's) until *condition* holds."""
    ready = threading.Event()

    def poll() -> None:
        while not condition():
            ready.wait(0.005)
        ready.set()

    poller = threading.Thread(target=poll)
    poller.start()
    assert ready.wait(PATIENCE)
    poller.join()


class Slow(Component):
    blocked_loop_threshold = 0.02

    def __init__(self, warnings: Warnings) -> None:
        super().__init__()
        self.warnings = warnings

    def crunch(self) -> None:
        assert self.warnings.arrived.wait(PATIENCE)  # blocks the loop until named

    def crunch_again(self, seen: int) -> None:
        blocks_until(lambda: watchdog.blocks_seen > seen)

    async def crunch_async(self) -> None:
        await asyncio.sleep(0)
        assert self.warnings.arrived.wait(PATIENCE)


async def test_a_handler_holding_the_loop_is_named(warnings: Warnings) -> None:
    async with Slow(warnings) as app:
        await app.call(Event.create("crunch"))
    assert len(warnings.messages) == 1
    assert "Slow.crunch " in warnings.messages[0]
    assert "more than 20 ms" in warnings.messages[0]


async def test_each_handler_is_named_once(warnings: Warnings) -> None:
    async with Slow(warnings) as app:
        await app.call(Event.create("crunch"))
        seen = watchdog.blocks_seen
        await app.call(Event.create("crunch_again", seen))  # another block: seen, not said
        await app.call(Event.create("crunch_again", watchdog.blocks_seen))
    assert len(warnings.messages) == 2  # crunch, then crunch_again once
    assert "Slow.crunch_again " in warnings.messages[1]


async def test_an_async_handler_is_named_too(warnings: Warnings) -> None:
    async with Slow(warnings) as app:
        await app.call(Event.create("crunch_async"))
    assert "Slow.crunch_async " in warnings.messages[0]


async def test_a_plain_loop_callback_is_named_by_its_function(warnings: Warnings) -> None:
    def stuck() -> None:
        assert warnings.arrived.wait(PATIENCE)

    async with Slow(warnings):
        done = asyncio.get_running_loop().create_future()
        asyncio.get_running_loop().call_soon(lambda: (stuck(), done.set_result(None)))
        await done
    assert "stuck " in warnings.messages[0]


def test_the_threshold_is_named_and_configurable(monkeypatch: pytest.MonkeyPatch) -> None:
    assert BLOCKED_LOOP_THRESHOLD == 0.1
    assert Component.blocked_loop_threshold == BLOCKED_LOOP_THRESHOLD
    monkeypatch.delenv("RELAYS_BLOCKED_LOOP_MS", raising=False)
    assert blocked_loop_threshold(0.5) == 0.5
    assert blocked_loop_threshold(None) is None
    monkeypatch.setenv("RELAYS_BLOCKED_LOOP_MS", "250")
    assert blocked_loop_threshold(None) == 0.25
    monkeypatch.setenv("RELAYS_BLOCKED_LOOP_MS", "0")
    assert blocked_loop_threshold(0.5) is None
    monkeypatch.setenv("RELAYS_BLOCKED_LOOP_MS", "soon")
    with pytest.raises(ValueError, match="milliseconds"):
        blocked_loop_threshold(0.5)


async def test_a_tree_that_stops_is_no_longer_watched() -> None:
    async with Component():
        loop = asyncio.get_running_loop()
        assert loop in watchdog._watched
    assert loop not in watchdog._watched


class Stepper(Component):
    blocked_loop_threshold = 0.02

    def __init__(self, warnings: Warnings) -> None:
        super().__init__()
        self.warnings = warnings

    def steps(self) -> Any:
        yield  # circuits' style: a generator handler, stepped by the kernel
        assert self.warnings.arrived.wait(PATIENCE)


async def test_a_generator_handler_is_named_too(warnings: Warnings) -> None:
    async with Stepper(warnings) as app:
        await app.call(Event.create("steps"))
    assert "Stepper.steps " in warnings.messages[0]
