"""examples/chat: two users through our client, reconnect back-off, and two Chromium tabs."""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import json
import re
import shutil
import subprocess
import sys
import threading
from collections.abc import AsyncIterator
from itertools import count
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

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

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--remote-debugging-port=0",
    "about:blank",
]


class DevTools:
    """Just enough of the Chrome DevTools protocol: commands over our own WebSocket client."""

    def __init__(self, ws: WebSocket) -> None:
        self.ws = ws
        self.ids = count(1)
        #: Events that arrived while a command waited for its answer.
        self.events: list[dict[str, Any]] = []

    async def command(self, method: str, session: str | None = None, **params: Any) -> Any:
        number = next(self.ids)
        message: dict[str, Any] = {"id": number, "method": method, "params": params}
        if session is not None:
            message["sessionId"] = session
        await self.ws.send(json.dumps(message))
        while True:
            answer = json.loads(await self.ws.receive())
            if answer.get("id") == number:
                if "error" in answer:
                    raise RuntimeError(f"{method}: {answer['error']}")
                return answer["result"]
            self.events.append(answer)

    async def event(self, method: str, session: str) -> dict[str, Any]:
        """The first event *method* of *session* (one that came already, or the next)."""
        while True:
            for index, event in enumerate(self.events):
                if event.get("method") == method and event.get("sessionId") == session:
                    return self.events.pop(index)
            self.events.append(json.loads(await self.ws.receive()))

    async def open_tab(self, url: str) -> str:
        """A new tab showing *url*, loaded; returns its session."""
        target = await self.command("Target.createTarget", url="about:blank")
        attached = await self.command(
            "Target.attachToTarget", targetId=target["targetId"], flatten=True
        )
        session = str(attached["sessionId"])
        await self.command("Page.enable", session)
        await self.command("Page.navigate", session, url=url)
        await self.event("Page.loadEventFired", session)
        return session

    async def evaluate(self, session: str, expression: str) -> Any:
        result = await self.command(
            "Runtime.evaluate",
            session,
            expression=expression,
            awaitPromise=True,
            returnByValue=True,
        )
        if "exceptionDetails" in result:
            raise RuntimeError(f"in the page: {result['exceptionDetails']}")
        return result["result"].get("value")


#: A promise, evaluated in the page, that settles when *condition* holds (checked on every
#: change of the page's DOM, so the test waits on the event it means).
WHEN = """new Promise((resolve) => {{
  const check = () => {{ if ({condition}) {{ observer.disconnect(); resolve(true); }} }};
  const observer = new MutationObserver(check);
  observer.observe(document, {{subtree: true, childList: true, attributes: true}});
  check();
}})"""


@contextlib.asynccontextmanager
async def chromium(tmp_path: Path) -> AsyncIterator[DevTools]:
    # A plain Popen whose stderr is read in threads: the browser is test equipment, and
    # uvloop's subprocess pipes failed here with EBUSY (the loop under test is the server's).
    assert CHROMIUM is not None
    process = subprocess.Popen(  # noqa: ASYNC220 - starting it takes no time worth a thread
        [CHROMIUM, f"--user-data-dir={tmp_path}", *FLAGS],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    drainer = None
    try:
        assert process.stderr is not None
        stderr = process.stderr
        url = None
        async with asyncio.timeout(30):
            while url is None:
                line = (await asyncio.to_thread(stderr.readline)).decode()
                if not line:
                    raise RuntimeError("chromium ended before its DevTools were ready")
                found = re.search(r"DevTools listening on (ws://\S+)", line)
                url = found.group(1) if found else None
        # Keep reading what it logs, so that a full pipe never blocks the browser.
        drainer = threading.Thread(target=stderr.read, daemon=True)
        drainer.start()
        async with connect(url, compression=False, max_message=64 * 1024 * 1024) as ws:
            yield DevTools(ws)
    finally:
        process.terminate()
        try:
            await asyncio.to_thread(process.wait, 10)
        except subprocess.TimeoutExpired:
            process.kill()
            await asyncio.to_thread(process.wait)
        if drainer is not None:
            await asyncio.to_thread(drainer.join, 10)  # the pipe's end: its read returns
        if process.stderr is not None:
            process.stderr.close()


@pytest.mark.slow
@pytest.mark.skipif(CHROMIUM is None, reason="no Chromium installed (apt-get install chromium)")
async def test_two_chromium_tabs_chat(tmp_path: Path) -> None:
    """Two tabs of the page examples/chat/static/index.html join and see each other's lines."""
    async with chat_server() as address, chromium(tmp_path) as browser:
        tabs = {name: await browser.open_tab(f"http://{address}/") for name in ("ann", "bob")}
        for name, tab in tabs.items():
            await browser.evaluate(
                tab,
                f"document.getElementById('name').value = '{name}';"
                "document.getElementById('join').requestSubmit();",
            )
            await browser.evaluate(tab, WHEN.format(condition="document.body.dataset.state"))
        said = {"ann": "hello bob", "bob": "hi ann"}
        for name, tab in tabs.items():
            await browser.evaluate(
                tab,
                f"document.getElementById('text').value = '{said[name]}';"
                "document.getElementById('say').requestSubmit();",
            )
        for tab in tabs.values():
            for name, line in said.items():
                seen = f"document.getElementById('log').textContent.includes('{name}: {line}')"
                assert await browser.evaluate(tab, WHEN.format(condition=seen)) is True
