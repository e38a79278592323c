"""The process link: a subtree in a real child process, joined over a pipe."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path
from typing import Any

import pytest

from relays import Component, handler
from relays_bridge import BridgeError, ProcessLink, RemoteError, spawn

HERE = Path(__file__).parent
# The child imports the subtree's module by name, on the parent's sys.path.
if str(HERE) not in sys.path:
    sys.path.append(str(HERE))

from linked_shop import EVENTS, ChildExits, Kitchen, OrderPlaced, PriceAsked  # noqa: E402


class Root(Component):
    channel = "app"


class Front(Component):
    """The parent's side: records orders taken and the child's exit."""

    channel = "orders"

    def __init__(self) -> None:
        super().__init__()
        self.taken: asyncio.Queue[tuple[int, int]] = asyncio.Queue()
        self.placed: list[int] = []
        self.exits: asyncio.Queue[tuple[str, int, int]] = asyncio.Queue()

    def order_placed(self, order_id: int) -> None:
        self.placed.append(order_id)

    def order_taken(self, order_id: int, pid: int) -> None:
        self.taken.put_nowait((order_id, pid))

    @handler("process_exited", channel="bridge")
    def _exited(self, name: str, pid: int, exit_code: int) -> None:
        self.exits.put_nowait((name, pid, exit_code))


def _link(**options: Any) -> ProcessLink:
    options.setdefault("events", EVENTS)
    return ProcessLink(Kitchen, channels=["orders"], requests=["prices"], **options)


async def test_a_call_returns_the_child_value_or_raises_its_error() -> None:
    link = _link(kwargs={"greeting": "hello"})
    async with Root() + link as app:
        await link.wait_connected(30)
        assert await app.call(PriceAsked("tea"), "prices", timeout=30) == 2.5
        assert await app.call(PriceAsked("greeting"), "prices", timeout=30) == "hello"
        child = await app.call(PriceAsked("pid"), "prices", timeout=30)
        with pytest.raises(RemoteError) as raised:
            await app.call(PriceAsked("bread"), "prices", timeout=30)
    assert child != os.getpid()
    assert isinstance(raised.value, KeyError)
    assert raised.value.type_name == "KeyError"
    assert "in price" in raised.value.remote_traceback  # the child's frames, as text
    assert link.exit_code == 0  # it exited by itself when the parent's tree stopped


async def test_events_cross_both_ways_and_run_on_both_sides() -> None:
    front = Front()
    link = spawn(Kitchen, link=Root() + front, channels=["orders"], events=EVENTS)
    async with link.root as app:
        await link.wait_connected(30)
        app.fire(OrderPlaced(7), "orders")
        order_id, pid = await asyncio.wait_for(front.taken.get(), 30)
    assert order_id == 7
    assert pid != os.getpid()  # taken in the child, and its answer came back
    assert front.placed == [7]  # and the parent's own handler ran too


async def test_a_child_that_dies_fails_waiting_calls_and_fires_process_exited() -> None:
    front = Front()
    link = _link()
    async with Root() + front + link as app:
        await link.wait_connected(30)
        pid = link.pid
        with pytest.raises(BridgeError, match=r"exited \(7\) before the reply"):
            await app.call(ChildExits(7), "prices", timeout=30)
        name, exited_pid, code = await asyncio.wait_for(front.exits.get(), 30)
        assert link.pid is None
    assert (name, exited_pid, code) == ("linked_shop:Kitchen", pid, 7)


async def test_a_killed_child_fires_process_exited_with_the_signal() -> None:
    front = Front()
    link = _link()
    async with Root() + front + link:
        await link.wait_connected(30)
        pid = link.pid
        assert pid is not None
        os.kill(pid, 9)
        assert await asyncio.wait_for(front.exits.get(), 30) == ("linked_shop:Kitchen", pid, -9)


async def test_the_child_exits_when_its_parent_is_killed(exit_of: Any) -> None:
    parent = await asyncio.create_subprocess_exec(
        sys.executable, str(HERE / "linked_parent.py"), stdout=asyncio.subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": os.pathsep.join([str(HERE), *sys.path])},
    )  # fmt: skip
    try:
        assert parent.stdout is not None
        line = await asyncio.wait_for(parent.stdout.readline(), 30)
        child = int(line)
        exited = await exit_of(child)
        parent.kill()
        await asyncio.wait_for(exited, 30)  # the child saw the pipe end, and stopped
    finally:
        if parent.returncode is None:
            parent.kill()
        await parent.wait()


def test_a_factory_the_child_cannot_import_is_refused_at_once() -> None:
    def local() -> Kitchen:
        return Kitchen()

    with pytest.raises(ValueError, match="top level of a module"):
        ProcessLink(local, events=EVENTS)
