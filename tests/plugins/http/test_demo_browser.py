"""The demo site in headless Chromium, at a phone's width: every page renders with its
stylesheet and without console errors, and its interactive part works.

The browser is driven over the Chrome DevTools protocol by the suite's helper,
tests/browser.py. Each wait is on what it means: a
load event, or a promise in the page that settles when the DOM shows the expected text.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from browser import DevTools, chat_in_two_tabs, chromium, needs_chromium
from relays import PluginNotFound
from relays_http import Server, _demo
from relays_http._demo import find_parts, make_demo

pytestmark = [pytest.mark.integration, pytest.mark.slow, needs_chromium]

#: The width of a small phone, in CSS pixels: no page may need a horizontal scroll bar.
PHONE_WIDTH = 375
#: A bound on each test, so that a page that never shows what is expected fails the test
#: instead of hanging it; no assertion depends on it.
TEST_BOUND = 120


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
        tab = await browser.open_tab(site + "/", phone_width=PHONE_WIDTH)
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
        tabs = {
            name: await browser.open_tab(site + "/chat", phone_width=PHONE_WIDTH)
            for name in ("ann", "bob")
        }
        for tab in tabs.values():
            await check_page(browser, tab, "Chat")
        await chat_in_two_tabs(browser, tabs, joined="document.body.dataset.chat === 'open'")
        for tab in tabs.values():
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
        tab = await browser.open_tab(site + "/", phone_width=PHONE_WIDTH)
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
