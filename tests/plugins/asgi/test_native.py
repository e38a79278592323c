"""Asgi on relays-http's head takers: scope from the head bytes, no relays events unless
something in the tree watches requests, and only relays-http's public API."""

from __future__ import annotations

import ast
import asyncio
import logging
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import relays_asgi
from relays import Component, Priority, handler
from relays_asgi import Asgi
from relays_asgi import _native as native
from relays_http import Request, Response, target_parts
from relays_http.testing import Client, memory_server

Scope = dict[str, Any]


async def hello(scope: Scope, receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    await receive()
    body = f"{scope['method']} {scope['root_path']} {scope['path']} {scope['query_string']!r}"
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"text/plain"), (b"connection", b"keep-alive")],
        }
    )
    await send({"type": "http.response.body", "body": body.encode()})


@pytest.fixture
def cycles(monkeypatch: pytest.MonkeyPatch) -> list[native.NativeCycle]:
    """Every NativeCycle made: the requests served from their head."""
    made: list[native.NativeCycle] = []
    original = native.NativeCycle.__init__

    def recording(self: native.NativeCycle, *args: Any, **options: Any) -> None:
        original(self, *args, **options)
        made.append(self)

    monkeypatch.setattr(native.NativeCycle, "__init__", recording)
    return made


def test_relays_asgi_uses_only_public_api_of_the_others() -> None:
    """No private module or name of relays, relays-http or relays-websocket."""
    package = Path(relays_asgi.__file__).parent
    others = ("relays", "relays_http", "relays_websocket")
    offences = []
    for module in sorted(package.glob("*.py")):
        tree = ast.parse(module.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module:
                parts = node.module.split(".")
                if parts[0] not in others:
                    continue
                names = [alias.name for alias in node.names]
                if any(part.startswith("_") for part in parts) or any(
                    name.startswith("_") for name in names
                ):
                    offences.append(f"{module.name}: from {node.module} import {names}")
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    parts = alias.name.split(".")
                    if parts[0] in others and any(part.startswith("_") for part in parts):
                        offences.append(f"{module.name}: import {alias.name}")
    assert offences == []


async def test_requests_are_served_from_their_head(cycles: list[Any]) -> None:
    server, transport = memory_server(Asgi(hello))
    async with server:
        client = Client(transport)
        first = await client.get("/a%20b?x=1")
        assert not client.closed  # kept alive
        second = await client.post("/form", b"field=1")
    assert first.body == b"GET  /a b b'x=1'"
    assert second.body == b"POST  /form b''"
    assert "connection" not in first.headers  # hop-by-hop: the server's
    assert len(cycles) == 2


class Pages(Component):
    channel = "web"

    def request(self, request: Request, response: Response) -> str:
        return f"relays {request.path}"


async def test_a_mount_takes_its_requests_and_leaves_the_rest_to_the_tree(
    cycles: list[Any],
) -> None:
    server, transport = memory_server(Asgi(hello, path="/api"), Pages())
    async with server:
        client = Client(transport)
        client.send(
            b"GET /api/items HTTP/1.1\r\nHost: t\r\n\r\n"
            b"GET /other HTTP/1.1\r\nHost: t\r\n\r\n"
            b"GET /api HTTP/1.1\r\nHost: t\r\n\r\n"
            b"GET /apiary HTTP/1.1\r\nHost: t\r\n\r\n"
        )
        responses = await client.responses(4)
    assert [r.body for r in responses] == [
        b"GET /api /api/items b''",
        b"relays /other",
        b"GET /api /api b''",
        b"relays /apiary",
    ]
    assert len(cycles) == 2


class AccessLog(Component):
    channel = "web"

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[tuple[str, int]] = []

    @handler("response")
    def _on_response(self, request: Request, response: Response) -> None:
        self.seen.append((request.path, response.status))


class Inspector(Component):
    channel = "web"

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[str] = []

    @handler("request", priority=Priority.INSPECT)
    def _on_request(self, request: Request, response: Response) -> None:
        self.seen.append(request.path)


async def test_while_responses_are_watched_they_are_fired_for_the_apps_requests(
    cycles: list[Any],
) -> None:
    log = AccessLog()
    server, transport = memory_server(Asgi(hello), log)
    async with server:
        assert (await Client(transport).get("/x")).status == 200
    assert log.seen == [("/x", 200)]
    assert cycles == []


async def test_a_request_watcher_ahead_of_the_dispatchers_sees_the_apps_requests(
    cycles: list[Any],
) -> None:
    inspector = Inspector()
    server, transport = memory_server(Asgi(hello), inspector)
    async with server:
        client = Client(transport)
        assert (await client.get("/seen")).status == 200
        inspector.unregister()
        assert (await client.get("/unseen")).status == 200
    assert inspector.seen == ["/seen"]
    assert len(cycles) == 1  # once nothing watches, from the head again


async def test_header_bytes_with_a_line_break_are_refused_by_relays_http(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def injecting(scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        headers = [(b"x-note", b"a\r\nset-cookie: stolen=1")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": b"body"})

    server, transport = memory_server(Asgi(injecting))
    async with server:
        with caplog.at_level(logging.ERROR):
            response = await Client(transport).get("/")
    assert response.status == 500
    assert "set-cookie" not in response.headers


@given(st.binary().filter(lambda rest: b"%" not in rest and b"?" not in rest))
def test_a_plain_target_is_its_own_path_as_the_taker_shortcuts_it(rest: bytes) -> None:
    # The taker skips target_parts for such a target: both must agree.
    target = "/" + rest.decode("latin-1")
    assert target_parts(target) == (target, target, "")


async def test_the_scope_splits_a_target_as_a_request_does() -> None:
    seen: list[tuple[bytes, str, bytes]] = []

    async def parts(scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        seen.append((scope["raw_path"], scope["path"], scope["query_string"]))
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body"})

    server, transport = memory_server(Asgi(parts))
    async with server:
        client = Client(transport)
        client.send(
            b"GET /a%20b?c%20d HTTP/1.1\r\nHost: t\r\n\r\n"
            b"GET http://example.com/p?q HTTP/1.1\r\nHost: t\r\n\r\n"
            b"GET http://example.com?q/r HTTP/1.1\r\nHost: t\r\n\r\n"
        )
        await client.responses(3)
    assert seen == [
        (b"/a%20b", "/a b", b"c%20d"),
        (b"/p", "/p", b"q"),
        (b"/", "/", b"q/r"),
    ]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    method=st.sampled_from(["GET", "HEAD"]),
    body=st.binary(max_size=20),
    lengths=st.lists(st.sampled_from(["body", "0", "7", "013", " 5", "x1", ""]), max_size=2),
    streamed=st.booleans(),
)
def test_an_apps_content_length_is_answered_as_on_the_event_path(
    method: str, body: bytes, lengths: list[str], streamed: bool
) -> None:
    # The native send lets a Content-Length that is the body's go out as it is: any
    # other value, or two of them, must still be dropped (or kept for HEAD) as the
    # event path does. A stream keeps it (one, the last), enforced: only true ones.
    if streamed:
        lengths = ["body" for _ in lengths]
    fields = [
        (b"content-length", str(len(body)).encode() if value == "body" else value.encode())
        for value in lengths
    ]

    async def sized(scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        headers = [(b"content-type", b"text/plain"), *fields]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        if streamed:
            await send({"type": "http.response.body", "body": body[:3], "more_body": True})
            await send({"type": "http.response.body", "body": body[3:]})
        else:
            await send({"type": "http.response.body", "body": body})

    async def answer(*others: Component) -> tuple[int, list[str], str | None, bytes]:
        server, transport = memory_server(Asgi(sized), *others)
        async with server:
            status, headers, got = await Client(transport).request(method, "/")
        names = sorted(name for name in headers if name != "date")
        return status, names, headers.get("content-length"), got

    native_answer = asyncio.run(answer())
    event_answer = asyncio.run(answer(AccessLog()))
    assert native_answer == event_answer
    if method == "GET" and (lengths or not streamed):
        assert native_answer[0] == 200
        assert native_answer[2:] == (str(len(body)), body)
