"""examples/chat: two users through our client, reconnect back-off, and two Chromium tabs."""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from types import ModuleType

import pytest

from browser import chat_in_two_tabs, chromium, needs_chromium
from relays_websocket import InvalidHandshake, WebSocket, connect

pytestmark = pytest.mark.integration

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "chat"


def load(file_name: str) -> ModuleType:
    name = file_name.removesuffix(".py")
    spec = importlib.util.spec_from_file_location(f"chat_{name}", EXAMPLE / file_name)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@contextlib.asynccontextmanager
async def chat_server() -> AsyncIterator[str]:
    server = load("app.py").make_app(port=0)
    async with server:
        host, port = await server.wait_ready()
        yield f"{host}:{port}"


async def test_two_users_talk_and_a_nameless_one_is_refused() -> None:
    async with chat_server() as address:
        async with connect(f"ws://{address}/chat?name=ann") as ann:
            assert await ann.receive() == "* ann joined"
            async with connect(f"ws://{address}/chat?name=bob") as bob:
                assert await bob.receive() == "* bob joined"
                assert await ann.receive() == "* bob joined"
                await ann.send("hi bob")
                assert await bob.receive() == "ann: hi bob"
                assert await ann.receive() == "ann: hi bob"
            assert await ann.receive() == "* bob left"
        with pytest.raises(InvalidHandshake, match="403"):
            async with connect(f"ws://{address}/chat"):
                pass


async def test_a_controller_page_opens_the_websocket_after_its_own_check() -> None:
    server = load("controller.py").make_app(port=0)
    async with server:
        host, port = await server.wait_ready()
        async with connect(f"ws://{host}:{port}/live?token=s3cret") as ws:
            await ws.send("hello")
            assert await ws.receive() == "ann said 'hello'"
        with pytest.raises(InvalidHandshake, match="403"):
            async with connect(f"ws://{host}:{port}/live?token=wrong"):
                pass


async def test_the_client_backs_off_while_the_server_is_away_and_resets_after() -> None:
    client = load("client.py")
    waits: list[float] = []

    async def no_sleep(seconds: float) -> None:
        waits.append(seconds)

    probe = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = probe.sockets[0].getsockname()[1]
    probe.close()
    await probe.wait_closed()
    await client.stay_connected(
        f"ws://127.0.0.1:{port}/chat?name=x", None, attempts=4, sleep=no_sleep
    )
    ceilings = [client.FIRST_WAIT * 2**failures for failures in (1, 2, 3, 4)]
    assert all(
        ceiling / 2 <= wait <= ceiling for wait, ceiling in zip(waits, ceilings, strict=True)
    )

    said: list[str | bytes] = []

    async def talk(ws: WebSocket) -> None:
        said.append(await ws.receive())
        ws.close()

    waits.clear()
    async with chat_server() as address:
        await client.stay_connected(
            f"ws://{address}/chat?name=x", talk, attempts=2, sleep=no_sleep
        )
    assert said == ["* x joined", "* x joined"]
    assert all(wait <= client.FIRST_WAIT for wait in waits)  # no failure: no growing wait


# -- a real browser ---------------------------------------------------------------------


@pytest.mark.slow
@needs_chromium
async def test_two_chromium_tabs_chat(tmp_path: Path) -> None:
    """Two tabs of the page examples/chat/static/index.html join and see each other's lines."""
    async with chat_server() as address, chromium(tmp_path) as browser:
        tabs = {name: await browser.open_tab(f"http://{address}/") for name in ("ann", "bob")}
        await chat_in_two_tabs(browser, tabs, joined="document.body.dataset.state")
