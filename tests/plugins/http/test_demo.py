"""The demo site (``relays demo``), page by page, over an in-memory connection.

Its pages in a real browser are in test_demo_browser.py.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Callable
from typing import Any

import pytest

from relays import PluginNotFound
from relays.testing import MemoryTransport
from relays_http import Dispatcher, _demo
from relays_http._demo import (
    ASSET_MEDIA_TYPES,
    INSPECTOR_PATH,
    RPC_PATH,
    TICK_COUNT,
    Calculator,
    ChatRoom,
    Root,
    count_visit,
    find_parts,
    make_demo,
    serve_assets,
    source_of,
    ticking,
)
from relays_http.testing import Client, memory_server

#: Each page, and the functions whose source it shows as the code behind it.
PAGES: dict[str, list[Callable[..., Any]]] = {
    "/": [Root.greet],
    "/session": [count_visit],
    "/rpc": [Calculator.add],
    "/files": [serve_assets],
    "/chat": [ChatRoom.read],
    "/events": [Root.ticks, ticking],
}


def demo_server() -> tuple[Any, MemoryTransport]:
    """The demo under an in-memory server, with the dispatcher ``Server`` would add."""
    return memory_server(Dispatcher(), make_demo())


def without_optional_plugins(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make the demo's plugin lookup find none of its optional parts."""

    def find_dispatcher(name: str) -> Any:
        raise PluginNotFound("dispatcher", name)

    monkeypatch.setattr(_demo, "find_dispatcher", find_dispatcher)
    monkeypatch.setattr(_demo, "plugin_manager", NoPlugins)


class NoPlugins:
    """A plugin manager that has no plugin loaded."""

    def has_plugin(self, name: str) -> bool:
        return False


def session_cookie(set_cookie: str) -> str:
    found = re.match(r"([^=;]+=[^;]*)", set_cookie)
    assert found is not None
    return found.group(1)


def test_the_workspace_has_every_optional_part_but_the_inspector() -> None:
    parts = find_parts()
    assert parts.static.installed
    assert parts.sessions.installed
    assert parts.jsonrpc.installed
    assert parts.websocket.installed


@pytest.mark.parametrize("path", [*PAGES, "/inspector"])
async def test_each_page_has_the_layout_and_the_code_behind_it(path: str) -> None:
    server, transport = demo_server()
    async with server:
        page = await Client(transport).get(path)
    assert page.status == 200
    assert page.headers["content-type"] == "text/html; charset=utf-8"
    text = page.text
    assert '<link rel="stylesheet" href="/assets/site.css">' in text
    assert 'aria-current="page"' in text
    for function in PAGES.get(path, []):
        assert html.escape(source_of(function)) in text


async def test_the_greeting_form_greets_and_escapes_the_name() -> None:
    server, transport = demo_server()
    async with server:
        client = Client(transport)
        greeted = await client.post(
            "/greet",
            b"name=Ada+%3C3",
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        assert greeted.status == 200
        assert "Hello, Ada &lt;3!" in greeted.text
        assert (await client.get("/greet")).status == 405


async def test_the_visit_counter_counts_in_the_session() -> None:
    server, transport = demo_server()
    async with server:
        client = Client(transport)
        first = await client.get("/session")
        assert '<p class="big" id="visits">1</p>' in first.text
        cookie = session_cookie(first.headers["set-cookie"])
        second = await client.get("/session", headers={"Cookie": cookie})
        assert '<p class="big" id="visits">2</p>' in second.text
        stranger = await Client(transport).get("/session")
        assert '<p class="big" id="visits">1</p>' in stranger.text


async def test_the_calculator_answers_json_rpc() -> None:
    server, transport = demo_server()
    async with server:
        call = {"jsonrpc": "2.0", "method": "add", "params": [2, 40], "id": 7}
        answer = await Client(transport).post(
            RPC_PATH, json.dumps(call).encode(), headers={"Content-Type": "application/json"}
        )
    assert json.loads(answer.body) == {"jsonrpc": "2.0", "result": 42, "id": 7}


async def test_relays_static_serves_the_assets_with_etags_and_ranges() -> None:
    server, transport = demo_server()
    async with server:
        client = Client(transport)
        whole = await client.get("/assets/sample.txt")
        assert whole.status == 200
        etag = whole.headers["etag"]
        again = await client.get("/assets/sample.txt", headers={"If-None-Match": etag})
        assert again.status == 304
        part = await client.get("/assets/sample.txt", headers={"Range": "bytes=0-31"})
        assert part.status == 206
        assert part.body == whole.body[:32]
        assert part.headers["content-range"] == f"bytes 0-31/{len(whole.body)}"


async def test_the_event_stream_sends_ticks_then_done(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_demo, "TICK_INTERVAL", 0)
    server, transport = demo_server()
    async with server:
        client = Client(transport)
        stream = await client.get("/ticks")
        resumed = await client.get("/ticks", headers={"Last-Event-ID": str(TICK_COUNT - 1)})
    assert stream.headers["content-type"] == "text/event-stream; charset=utf-8"
    ids = re.findall(r"^id: (\d+)$", stream.text, re.MULTILINE)
    assert ids == [str(number) for number in range(1, TICK_COUNT + 1)]
    assert stream.text.endswith("event: done\ndata: done\n\n")
    assert re.findall(r"^id: (\d+)$", resumed.text, re.MULTILINE) == [str(TICK_COUNT)]


async def test_without_optional_plugins_each_page_names_what_to_install(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    without_optional_plugins(monkeypatch)
    server, transport = demo_server()
    async with server:
        client = Client(transport)
        pages = {
            "/session": "relays-sessions",
            "/rpc": "relays-jsonrpc",
            "/files": "relays-static",
            "/chat": "relays-websocket",
            "/inspector": "relays-inspector",
        }
        for path, package in pages.items():
            page = await client.get(path)
            assert page.status == 200
            assert f"<code>pip install {package}</code>" in page.text, path
        # What needs nothing else still works: the form, and the assets by name.
        form = {"Content-Type": "application/x-www-form-urlencoded"}
        assert "Hello, Ada!" in (await client.post("/greet", b"name=Ada", headers=form)).text
        for name, media_type in ASSET_MEDIA_TYPES.items():
            asset = await client.get(f"/assets/{name}")
            assert asset.status == 200
            assert asset.headers["content-type"] == media_type
        assert (await client.get("/assets/../_demo.py")).status == 404
        assert (await client.get("/assets/layout.html")).status == 404


async def test_with_the_inspector_loaded_its_page_links_to_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    class InspectorOnly:
        def has_plugin(self, name: str) -> bool:
            return name == "inspector"

    monkeypatch.setattr(_demo, "plugin_manager", InspectorOnly)
    server, transport = demo_server()
    async with server:
        page = await Client(transport).get("/inspector")
    assert f'<a id="inspector-link" href="{INSPECTOR_PATH}">' in page.text
    assert "<code>relays demo --inspect</code>" in page.text
