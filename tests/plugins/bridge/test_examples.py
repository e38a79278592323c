"""The examples the bridge docs include run as the docs say."""

from __future__ import annotations

import asyncio
import importlib.util
import sys
from pathlib import Path
from typing import Any

import pytest

EXAMPLES = Path(__file__).parents[3] / "examples" / "bridge"

pytestmark = pytest.mark.integration


async def test_prices_serves_and_answers_from_another_process(broker: Any) -> None:
    server = await asyncio.create_subprocess_exec(
        sys.executable, str(EXAMPLES / "prices.py"), "serve", broker.url,
        stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        assert server.stdout is not None
        line = await asyncio.wait_for(server.stdout.readline(), 20)
        assert line == b"serving prices\n"
        asking = await asyncio.create_subprocess_exec(
            sys.executable, str(EXAMPLES / "prices.py"), "ask", broker.url, "tea",
            stdout=asyncio.subprocess.PIPE,
        )  # fmt: skip
        output, _ = await asyncio.wait_for(asking.communicate(), 30)
        assert output == b"2.5\n"
        assert asking.returncode == 0
    finally:
        server.kill()
        await server.wait()


async def test_the_shop_fulfils_an_order_through_nats(
    nats_broker: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = importlib.util.spec_from_file_location("bridge_shop_example", EXAMPLES / "shop.py")
    assert spec is not None
    assert spec.loader is not None
    shop = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(shop)
    monkeypatch.setenv("SHOP_EVENTS", nats_broker.url)
    tree = shop.app()
    bridge = next(node for node in tree.walk() if type(node).__name__ == "Bridge")
    async with tree:
        await bridge.wait_connected(10)
        # Fired here, the order is queued (the bridge stops it locally) ...
        assert await tree.fire(shop.OrderPlaced("ada", "tea"), "orders") is None
        # ... and nothing was sent yet (no await gave the loop a turn): the next
        # order_placed to finish is the one NATS hands back to run Fulfilment.
        await tree.wait("order_placed", "orders", timeout=20)


async def test_process_link_runs_the_kitchen_in_a_child() -> None:
    run = await asyncio.create_subprocess_exec(
        sys.executable, str(EXAMPLES / "process_link.py"), stdout=asyncio.subprocess.PIPE
    )
    output, _ = await asyncio.wait_for(run.communicate(), 60)
    lines = output.decode().splitlines()
    assert run.returncode == 0
    assert lines[0] == "tea costs 2.5"
    assert lines[1].startswith("cake taken by process ")
    assert lines[1].endswith(": True")  # by another process than the parent


async def test_start_process_runs_the_kitchen_in_a_child_until_stopped() -> None:
    run = await asyncio.create_subprocess_exec(
        sys.executable, str(EXAMPLES / "start_process.py"), stdout=asyncio.subprocess.PIPE
    )
    output, _ = await asyncio.wait_for(run.communicate(), 60)
    lines = output.decode().splitlines()
    assert run.returncode == 0
    assert lines[0].startswith("tea costs 2.5, said process ")
    assert lines[1:] == [
        "that is a child of this one: True",
        "the kitchen is back in this process: True",
    ]
