"""The inspector's page in headless Chromium, driven over the DevTools protocol.

examples/inspector/app.py is served on a free port; the page must draw the app's
components, list a clicked component's handlers, show an event the test fires within a
second (the test waits on the line appearing, not on a clock), refuse a wrong token with
403, draw the live figures, and log no console error.
"""

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

from relays import Event
from relays_http import Server
from relays_inspector import Inspector
from relays_websocket import WebSocket, connect

pytestmark = [pytest.mark.integration, pytest.mark.slow]

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "inspector" / "app.py"
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


def load_example() -> ModuleType:
    spec = importlib.util.spec_from_file_location("inspector_example_app", EXAMPLE)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


class DevTools:
    """Just enough of the Chrome DevTools protocol, over relays' own WebSocket client."""

    def __init__(self, ws: WebSocket) -> None:
        self.ws = ws
        self.ids = count(1)
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
        while True:
            for index, event in enumerate(self.events):
                if event.get("method") == method and event.get("sessionId") == session:
                    return self.events.pop(index)
            self.events.append(json.loads(await self.ws.receive()))

    async def open_tab(self, url: str) -> str:
        target = await self.command("Target.createTarget", url="about:blank")
        attached = await self.command(
            "Target.attachToTarget", targetId=target["targetId"], flatten=True
        )
        session = str(attached["sessionId"])
        for domain in ("Page", "Runtime", "Log"):
            await self.command(f"{domain}.enable", session)
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

    async def settle(self, session: str) -> None:
        """Every message the browser sent before this round trip is in :attr:`events`."""
        await self.evaluate(session, "1")

    def console_errors(self, session: str) -> list[dict[str, Any]]:
        found = []
        for event in self.events:
            if event.get("sessionId") != session:
                continue
            method, params = event.get("method"), event.get("params", {})
            thrown = method == "Runtime.exceptionThrown"
            if thrown or (method == "Runtime.consoleAPICalled" and params.get("type") == "error"):
                found.append(params)
            elif method == "Log.entryAdded" and params["entry"]["level"] == "error":
                found.append(params["entry"])
        return found


#: A promise, evaluated in the page, that settles when *condition* holds (checked on every
#: change of the page's DOM, so the test waits on the event it means).
WHEN = """new Promise((resolve) => {{
  const check = () => {{ if ({condition}) {{ observer.disconnect(); resolve(true); }} }};
  const observer = new MutationObserver(check);
  observer.observe(document, {{subtree: true, childList: true, attributes: true,
                               characterData: true}});
  check();
}})"""


@contextlib.asynccontextmanager
async def chromium(tmp_path: Path) -> AsyncIterator[DevTools]:
    # A plain Popen whose stderr is read in threads: the browser is test equipment, and
    # uvloop's subprocess pipes failed with EBUSY (the loop under test is the server's).
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
            await asyncio.to_thread(drainer.join, 10)
        if process.stderr is not None:
            process.stderr.close()


class Probe(Event):
    """The event the test fires into the app, to find in the page's stream."""


@pytest.mark.skipif(CHROMIUM is None, reason="no Chromium installed (apt-get install chromium)")
async def test_the_page_shows_the_tree_the_handlers_and_live_events(tmp_path: Path) -> None:
    server: Server = load_example().make_app(port=0)
    [inspector] = [child for child in server.components if isinstance(child, Inspector)]
    inspector.announce = False
    async with server, chromium(tmp_path) as browser:
        await server.wait_ready()
        assert inspector.url is not None
        tab = await browser.open_tab(inspector.url)
        page = await browser.evaluate(tab, "location.pathname + location.search")
        assert page == "/_relays/"  # the token went into a cookie, out of the address

        await browser.evaluate(tab, WHEN.format(condition="document.body.dataset.tree"))
        names = await browser.evaluate(
            tab, "[...document.querySelectorAll('#tree g.node')].map((n) => n.textContent)"
        )
        for component in ("Server", "Root", "Kitchen", "Timer", "Inspector"):
            assert any(component in name for name in names), names
        assert any("channel: kitchen" in name for name in names), names

        await browser.evaluate(
            tab,
            "[...document.querySelectorAll('#tree g.node')]"
            ".find((n) => n.textContent.includes('Kitchen'))"
            ".dispatchEvent(new MouseEvent('click', {bubbles: true}))",
        )
        await browser.evaluate(
            tab, WHEN.format(condition="document.body.dataset.handlers === 'Kitchen'")
        )
        rows = await browser.evaluate(
            tab, "[...document.querySelectorAll('#handlers tbody tr')].map((r) => r.innerText)"
        )
        assert any("order" in row and "Kitchen.order" in row for row in rows), rows

        await browser.evaluate(tab, WHEN.format(condition="document.body.dataset.stream"))
        server.fire(Probe("looked-for-7f3a"), "kitchen")
        # Waits on the line itself; the stream sends every 0.1 s. The timeout only guards
        # against a hang: no wall-clock margin is asserted (it would flake on a loaded CI).
        async with asyncio.timeout(30):
            seen = "document.getElementById('events').textContent.includes('looked-for-7f3a')"
            assert await browser.evaluate(tab, WHEN.format(condition=seen)) is True

        # the live figures: drawn once the first sample came (after a second)
        await browser.evaluate(tab, WHEN.format(condition="document.body.dataset.figures"))
        plotted = await browser.evaluate(
            tab,
            "['plot-requests', 'plot-queue', 'plot-connections']"
            ".map((id) => document.querySelectorAll(`#${id} polyline`).length)",
        )
        assert plotted == [1, 1, 1]
        assert await browser.evaluate(
            tab, "document.querySelectorAll('#plot-histogram rect').length"
        )
        counted = await browser.evaluate(
            tab, "[...document.querySelectorAll('#counts td.name')].map((n) => n.textContent)"
        )
        assert "probe" in counted, counted

        await browser.settle(tab)
        assert browser.console_errors(tab) == []

        refused = await browser.open_tab(inspector.url.split("?")[0] + "?token=" + "w" * 32)
        status = await browser.evaluate(
            refused, "fetch(location.href).then((answer) => answer.status)"
        )
        assert status == 403
