"""The demo site in headless Chromium, at a phone's width: every page renders with its
stylesheet and without console errors, and its interactive part works.

The browser is driven over the Chrome DevTools protocol with relays-websocket's client,
as tests/plugins/websocket/test_chat_example.py does. Each wait is on what it means: a
load event, or a promise in the page that settles when the DOM shows the expected text.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import shutil
import subprocess
import threading
from collections.abc import AsyncIterator
from itertools import count
from pathlib import Path
from typing import Any

import pytest

from relays import PluginNotFound
from relays_http import Server, _demo
from relays_http._demo import find_parts, make_demo
from relays_websocket import WebSocket, connect

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")

pytestmark = [
    pytest.mark.integration,
    pytest.mark.slow,
    pytest.mark.skipif(
        CHROMIUM is None, reason="no Chromium installed (apt-get install chromium)"
    ),
]

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
#: The width of a small phone, in CSS pixels: no page may need a horizontal scroll bar.
PHONE_WIDTH = 375
#: A bound on each test, so that a page that never shows what is expected fails the test
#: instead of hanging it; no assertion depends on it.
TEST_BOUND = 120


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
        """A new tab at a phone's width showing *url*, loaded; returns its session."""
        target = await self.command("Target.createTarget", url="about:blank")
        attached = await self.command(
            "Target.attachToTarget", targetId=target["targetId"], flatten=True
        )
        session = str(attached["sessionId"])
        for domain in ("Page", "Runtime", "Log"):
            await self.command(f"{domain}.enable", session)
        await self.command(
            "Emulation.setDeviceMetricsOverride",
            session,
            width=PHONE_WIDTH,
            height=800,
            deviceScaleFactor=1,
            mobile=True,
        )
        await self.navigate(session, url)
        return session

    async def navigate(self, session: str, url: str) -> None:
        await self.command("Page.navigate", session, url=url)
        await self.event("Page.loadEventFired", session)

    async def reload(self, session: str) -> None:
        await self.command("Page.reload", session)
        await self.event("Page.loadEventFired", session)

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

    async def when(self, session: str, condition: str) -> None:
        """Return once *condition* (JavaScript) holds in the page."""
        assert await self.evaluate(session, WHEN.format(condition=condition)) is True

    async def console_errors(self, session: str) -> list[dict[str, Any]]:
        """What the page reported as errors so far: exceptions, console.error, failed loads."""
        await self.evaluate(session, "0")  # every event sent before this answer is read
        errors = []
        for event in self.events:
            if event.get("sessionId") != session:
                continue
            method, params = event.get("method"), event.get("params", {})
            if (
                method == "Runtime.exceptionThrown"
                or (method == "Runtime.consoleAPICalled" and params.get("type") == "error")
                or (method == "Log.entryAdded" and params["entry"].get("level") == "error")
            ):
                errors.append(event)
        return errors


#: A promise, evaluated in the page, that settles when *condition* holds (checked on every
#: change of the page's DOM).
WHEN = """new Promise((resolve) => {{
  const check = () => {{ if ({condition}) {{ observer.disconnect(); resolve(true); }} }};
  const observer = new MutationObserver(check);
  observer.observe(document, {{subtree: true, childList: true, characterData: true,
                               attributes: true}});
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


class NoPlugins:
    """A plugin manager that has no plugin loaded."""

    def has_plugin(self, name: str) -> bool:
        return False


def without_optional_plugins(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make the demo's plugin lookups find none of its optional parts."""

    def find_dispatcher(name: str) -> Any:
        raise PluginNotFound("dispatcher", name)

    monkeypatch.setattr(_demo, "find_dispatcher", find_dispatcher)
    monkeypatch.setattr(_demo, "plugin_manager", NoPlugins)


@contextlib.asynccontextmanager
async def demo_site() -> AsyncIterator[str]:
    """The demo under a real server on loopback; yields its base URL (no trailing slash)."""
    server = Server(("127.0.0.1", 0)) + make_demo()
    async with server:
        host, port = await server.wait_ready()
        yield f"http://{host}:{port}"


async def check_page(browser: DevTools, tab: str, title: str) -> None:
    """The page has its title, its stylesheet applied, fits a phone, and reported no error."""
    assert await browser.evaluate(tab, "document.querySelector('h1').textContent") == title
    font = await browser.evaluate(tab, "getComputedStyle(document.body).fontFamily")
    assert font.startswith("system-ui"), font  # site.css was loaded and applied
    width = await browser.evaluate(tab, "document.documentElement.scrollWidth")
    assert width <= PHONE_WIDTH
    assert await browser.console_errors(tab) == []


def text_of(element_id: str) -> str:
    return f"document.getElementById('{element_id}').textContent"


async def test_every_page_renders_and_works(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_demo, "TICK_INTERVAL", 0.01)
    async with asyncio.timeout(TEST_BOUND), demo_site() as site, chromium(tmp_path) as browser:
        # The greeting form: a controller's page, posted and answered.
        tab = await browser.open_tab(site + "/")
        await check_page(browser, tab, "relays demo")
        await browser.evaluate(
            tab,
            "document.querySelector('input[name=name]').value = 'Ada <3';"
            "document.querySelector('form').requestSubmit();",
        )
        await browser.event("Page.loadEventFired", tab)
        assert await browser.evaluate(tab, text_of("greeting")) == "Hello, Ada <3!"
        assert await browser.console_errors(tab) == []

        # The visit counter: one more on each reload.
        await browser.navigate(tab, site + "/session")
        await check_page(browser, tab, "A session")
        assert await browser.evaluate(tab, text_of("visits")) == "1"
        await browser.reload(tab)
        await browser.reload(tab)
        assert await browser.evaluate(tab, text_of("visits")) == "3"

        # JSON-RPC: the page's fetch, and the answer shown.
        await browser.navigate(tab, site + "/rpc")
        await check_page(browser, tab, "JSON-RPC")
        await browser.evaluate(
            tab,
            "const form = document.getElementById('rpc');"
            "form.a.value = '2'; form.b.value = '40'; form.requestSubmit();",
        )
        await browser.when(tab, f"{text_of('sum')} === '42'")
        answer = json.loads(await browser.evaluate(tab, text_of("answer")))
        assert answer == {"jsonrpc": "2.0", "result": 42, "id": 1}
        assert await browser.console_errors(tab) == []

        # A static file: whole with its ETag, 304 with it, then a range.
        await browser.navigate(tab, site + "/files")
        await browser.when(tab, f"{text_of('range')}.includes('Partial Content')")
        whole = await browser.evaluate(tab, text_of("whole"))
        etag = re.search(r"^etag: (.+)$", whole, re.MULTILINE)
        assert etag is not None
        again = await browser.evaluate(tab, text_of("again"))
        assert again.startswith("HTTP 304")
        assert f"etag: {etag.group(1)}" in again
        ranged = await browser.evaluate(tab, text_of("range"))
        assert ranged.startswith("HTTP 206")
        assert re.search(r"^content-range: bytes 0-31/\d+$", ranged, re.MULTILINE)
        await check_page(browser, tab, "Static files")

        # Server-sent events: every tick arrives, then the stream ends.
        await browser.navigate(tab, site + "/events")
        await browser.when(tab, f"{text_of('stream-status')}.includes('ended')")
        lines = (await browser.evaluate(tab, text_of("log"))).splitlines()
        assert [line.split(":")[0] for line in lines] == [
            f"id {number}" for number in range(1, _demo.TICK_COUNT + 1)
        ]
        await check_page(browser, tab, "Server-sent events")

        # The inspector: its link when installed, else the package to install.
        await browser.navigate(tab, site + "/inspector")
        await check_page(browser, tab, "Inspector")
        if find_parts().inspector.installed:
            link = "document.getElementById('inspector-link').getAttribute('href')"
            assert await browser.evaluate(tab, link) == _demo.INSPECTOR_PATH
        else:
            hint = await browser.evaluate(tab, text_of("missing-inspector"))
            assert "pip install relays-inspector" in hint


async def test_two_tabs_chat(tmp_path: Path) -> None:
    async with asyncio.timeout(TEST_BOUND), demo_site() as site, chromium(tmp_path) as browser:
        tabs = {name: await browser.open_tab(site + "/chat") for name in ("ann", "bob")}
        for name, tab in tabs.items():
            await check_page(browser, tab, "Chat")
            await browser.evaluate(
                tab,
                f"document.getElementById('name').value = '{name}';"
                "document.getElementById('join').requestSubmit();",
            )
            await browser.when(tab, "document.body.dataset.chat === 'open'")
        said = {"ann": "hello bob", "bob": "hi ann"}
        for name, tab in tabs.items():
            await browser.evaluate(
                tab,
                f"document.getElementById('text').value = '{said[name]}';"
                "document.getElementById('say').requestSubmit();",
            )
        for tab in tabs.values():
            for name, line in said.items():
                await browser.when(tab, f"{text_of('log')}.includes('{name}: {line}')")
            assert await browser.console_errors(tab) == []


async def test_without_optional_plugins_the_pages_say_what_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    without_optional_plugins(monkeypatch)
    monkeypatch.setattr(_demo, "TICK_INTERVAL", 0.01)
    pages = {
        "/session": ("A session", "sessions"),
        "/rpc": ("JSON-RPC", "jsonrpc"),
        "/files": ("Static files", "static"),
        "/chat": ("Chat", "websocket"),
        "/inspector": ("Inspector", "inspector"),
    }
    async with asyncio.timeout(TEST_BOUND), demo_site() as site, chromium(tmp_path) as browser:
        tab = await browser.open_tab(site + "/")
        await check_page(browser, tab, "relays demo")  # its stylesheet: from the fallback
        for path, (title, part) in pages.items():
            await browser.navigate(tab, site + path)
            await check_page(browser, tab, title)
            hint = await browser.evaluate(tab, text_of(f"missing-{part}"))
            assert f"pip install relays-{part}" in hint
        # What needs no other plugin still works.
        await browser.navigate(tab, site + "/events")
        await browser.when(tab, f"{text_of('stream-status')}.includes('ended')")
        await check_page(browser, tab, "Server-sent events")
