"""Event.cancel_handlers: the tasks of a cancellable event's async handlers, and of the
events they answered with, can be cancelled; other events keep nothing."""

from __future__ import annotations

import asyncio

from relays import Component, Event, Handler, Value
from relays.testing import Manager


class Job(Event):
    cancellable = True


class Plain(Event):
    pass


class Inner(Event):
    cancellable = True  # its tasks are kept; reached through the job that chained to it


class Workers(Component):
    def __init__(self) -> None:
        super().__init__()
        self.started: dict[str, asyncio.Event] = {}
        self.cancelled: dict[str, asyncio.Event] = {}

    async def _wait(self, name: str) -> None:
        self.started.setdefault(name, asyncio.Event()).set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            self.cancelled.setdefault(name, asyncio.Event()).set()
            raise

    async def job(self) -> None:
        await self._wait("job")

    async def plain(self) -> None:
        await self._wait("plain")

    async def inner(self) -> None:
        await self._wait("inner")

    async def until_started(self, name: str) -> None:
        await self.started.setdefault(name, asyncio.Event()).wait()

    async def until_cancelled(self, name: str) -> None:
        await self.cancelled.setdefault(name, asyncio.Event()).wait()


class Forwarder(Component):
    """Answers ``job`` with the value of an ``inner`` event (a chained value)."""

    def job(self) -> Value:
        return self.fire(Inner())


async def test_a_cancellable_events_running_handler_is_cancelled() -> None:
    workers = Workers()
    async with Manager() + workers as root:
        event = Job()
        value = root.fire(event)
        finished = asyncio.Event()
        value.add_done_callback(lambda _: finished.set())
        await workers.until_started("job")
        assert event.cancel_handlers() == 1
        await finished.wait()
        assert isinstance(value.result, asyncio.CancelledError)
        assert "job" in workers.cancelled
        assert event.cancel_handlers() == 0  # done: nothing left to cancel


async def test_other_events_keep_no_tasks() -> None:
    workers = Workers()
    async with Manager() + workers as root:
        event = Plain()
        root.fire(event)
        await workers.until_started("plain")
        assert event.cancel_handlers() == 0
        assert "plain" not in workers.cancelled


async def test_spare_keeps_a_handler_running_and_chained_events_are_followed() -> None:
    workers = Workers()
    async with Manager() + workers + Forwarder() as root:
        event = Job()
        root.fire(event)
        await workers.until_started("job")
        await workers.until_started("inner")
        seen: list[tuple[str, str]] = []

        def spare(cancelled: Event, handler: Handler) -> bool:
            seen.append((cancelled.name, handler.name))
            return cancelled.name == "job"  # spare the direct one, not the chained one

        assert event.cancel_handlers(spare) == 1
        await workers.until_cancelled("inner")
        assert sorted(seen) == [("inner", "inner"), ("job", "job")]
        assert "job" not in workers.cancelled
