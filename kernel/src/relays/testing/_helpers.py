"""Waiting helpers for tests: bounded, so a broken test fails instead of hanging."""

from __future__ import annotations

import asyncio
from typing import Any

from .._components import BaseComponent, Component

__all__ = ["Manager", "drain", "wait_for"]

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
