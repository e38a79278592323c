"""Waiting helpers for tests: bounded, so a broken test fails instead of hanging."""

from __future__ import annotations

import asyncio
from typing import Any

from .._components import BaseComponent, Component
from .._events import Event
from .._handlers import handler

__all__ = ["Manager", "Recorder", "drain", "wait_for"]

#: Seconds a helper waits before failing the test.
DEFAULT_TIMEOUT = 5.0


class Manager(Component):
    """An empty root to register the components under test to."""


async def wait_for(
    component: BaseComponent, name: str, *channels: Any, timeout: float = DEFAULT_TIMEOUT
) -> Any:
    """Wait for the next *name* event on *channels* to finish; return its result.

    Raises :class:`TimeoutError` after *timeout* seconds.
    """
    return await component.wait(name, *channels, timeout=timeout)


async def drain(component: BaseComponent, timeout: float = DEFAULT_TIMEOUT) -> None:
    """Wait until the tree's queue is empty and no handler task is left running."""
    hub = component.root._hub
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while hub.busy:
        if loop.time() > deadline:
            raise TimeoutError(f"{component.root!r} still busy after {timeout} s")
        await asyncio.sleep(0)


class Recorder(BaseComponent):
    """Remembers every event of the tree it is registered in, in dispatch order.

    Unlike :func:`wait_for`, which only sees events dispatched after it is called,
    :meth:`until` also counts events that came before: no race with the firing.
    It listens at the highest priority, so it records an event before its handlers run.
    """

    def __init__(self, *, channel: Any = "*") -> None:
        super().__init__(channel=channel)
        self.events: list[Event] = []
        self._arrived: asyncio.Event | None = None

    @handler("*", channel="*", priority=10_000)
    def _record(self, event: Event, *args: Any, **kwargs: Any) -> None:
        self.events.append(event)
        if self._arrived is not None:
            self._arrived.set()

    def named(self, name: str) -> list[Event]:
        """The recorded events called *name*, oldest first."""
        return [event for event in self.events if event.name == name]

    async def until(
        self, name: str, count: int = 1, timeout: float = DEFAULT_TIMEOUT
    ) -> list[Event]:
        """Wait until *count* events called *name* were recorded; return them."""

        async def arrivals() -> None:
            while len(self.named(name)) < count:
                self._arrived = self._arrived or asyncio.Event()
                self._arrived.clear()
                await self._arrived.wait()

        try:
            await asyncio.wait_for(arrivals(), timeout)
        except TimeoutError:
            seen = len(self.named(name))
            raise TimeoutError(
                f"saw {seen} {name!r} events, not {count}, in {timeout} s"
            ) from None
        return self.named(name)


def forget_capabilities() -> None:
    """Forget what :func:`relays.transports.supports` remembered about connection classes.

    For tests that add a method to a connection class, or take one away (``monkeypatch``):
    the answers are kept per class, and the runtime protocols' own ``isinstance`` cache too.
    """
    from relays import transports

    transports._SUPPORTED.clear()
    for capability in (
        transports.SupportsDrain,
        transports.SupportsSendfile,
        transports.SupportsDeferAccept,
    ):
        capability._abc_caches_clear()  # type: ignore[union-attr]
