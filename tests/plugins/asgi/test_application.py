"""``application(tree)``: a relays tree as an ASGI app, driven in-process message by message."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from asgi_scopes import http_scope, websocket_scope

from relays import Component, handler
from relays_asgi import application
from relays_http import Controller, Dispatcher, HTTPError, Limits, Request, Response
from relays_logging import AccessLog
from relays_static import Static

Message = dict[str, Any]


async def call(
    app: Any, method: str, path: str, *, body: list[bytes] | None = None, **options: Any
) -> tuple[int, dict[bytes, bytes], bytes, list[Message]]:
    """Call *app* once; its status, fields, body, and every message it sent."""
    incoming = [
        {"type": "http.request", "body": chunk, "more_body": index < len(body or [b""]) - 1}
        for index, chunk in enumerate(body or [b""])
    ]
    sent: list[Message] = []

    async def receive() -> Message:
        if incoming:
            return incoming.pop(0)
        await asyncio.Event().wait()  # no disconnect before the response: wait forever
        raise AssertionError("unreachable")

    async def send(message: Message) -> None:
        sent.append(message)

    await app(http_scope(method, path, **options), receive, send)
    start = sent[0]
    assert start["type"] == "http.response.start"
    assert all(message["type"] == "http.response.body" for message in sent[1:])
    assert not sent[-1].get("more_body", False)
    fields = dict(start["headers"])
    return start["status"], fields, b"".join(m.get("body", b"") for m in sent[1:]), sent


class Root(Controller):
    def index(self) -> str:
        return "hello"

    def data(self) -> dict[str, int]:
        return {"answer": 42}

    async def echo(self) -> bytes:
        return await self.request.read()

    def stream(self) -> Any:
        return (f"{number}," for number in range(3))

    async def astream(self) -> AsyncIterator[str]:
        for number in range(3):
            yield f"{number};"

    def private(self) -> str:
        raise HTTPError(403, "not you")

    def broken(self) -> str:
        raise RuntimeError("secret failure")

    def flavour(self) -> Response:
        response = Response("cookie set")
        response.set_cookie("flavour", "oat")
        return response

    def origin(self, **query: str) -> dict[str, Any]:
        request: Request = self.request
        return {
            "url": request.url,
            "remote": list(request.remote),
            "scheme": request.scheme,
            "query": request.query_string,
        }


def tree() -> Component:
    return Component() + Dispatcher() + Root()


class Lifespan:
    """Drives an app's lifespan one step at a time, as an ASGI server does."""

    def __init__(self, app: Any) -> None:
        self.incoming: asyncio.Queue[Message] = asyncio.Queue()
        self.answers: asyncio.Queue[Message] = asyncio.Queue()
        scope = {"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}
        self.task = asyncio.create_task(app(scope, self.incoming.get, self.answers.put))

    async def step(self, kind: str) -> str:
        await self.incoming.put({"type": kind})
        answer: str = (await self.answers.get())["type"]
        return answer


async def test_answers_of_every_kind() -> None:
    app = application(tree())
    driver = Lifespan(app)
    assert await driver.step("lifespan.startup") == "lifespan.startup.complete"
    assert app.tree.running

    status, fields, body, _ = await call(app, "GET", "/")
    assert (status, body) == (200, b"hello")
    assert fields[b"content-type"] == b"text/html; charset=utf-8"
    assert fields[b"content-length"] == b"5"
    status, fields, body, _ = await call(app, "GET", "/data")
    assert (status, json.loads(body), fields[b"content-type"]) == (
        200,
        {"answer": 42},
        b"application/json",
    )
    status, _, body, _ = await call(app, "POST", "/echo", body=[b"one ", b"two"])
    assert (status, body) == (200, b"one two")
    for path, expected in (("/stream", b"0,1,2,"), ("/astream", b"0;1;2;")):
        status, fields, body, sent = await call(app, "GET", path)
        assert (status, body) == (200, expected)
        assert b"content-length" not in fields
        assert len(sent) > 2  # streamed: a body message per chunk
    status, fields, body, _ = await call(app, "GET", "/flavour")
    assert fields[b"set-cookie"].startswith(b"flavour=oat")
    assert (await call(app, "HEAD", "/"))[2] == b""
    answer = json.loads((await call(app, "GET", "/origin", query=b"a=1"))[2])
    assert answer == {
        "url": "http://test/origin?a=1",
        "remote": ["127.0.0.1", 5000],
        "scheme": "http",
        "query": "a=1",
    }

    assert await driver.step("lifespan.shutdown") == "lifespan.shutdown.complete"
    await driver.task
    assert not app.tree.running


async def test_errors_are_pages_and_failures_are_500s_without_details(
    caplog: pytest.LogCaptureFixture,
) -> None:
    app = application(tree())
    status, _, body, _ = await call(app, "GET", "/missing")
    assert status == 404
    status, _, body, _ = await call(app, "GET", "/private")
    assert (status, b"not you" in body) == (403, True)
    with caplog.at_level(logging.ERROR):
        status, _, body, _ = await call(app, "GET", "/broken")
    assert (status, b"secret failure" in body) == (500, False)
    assert "secret failure" in caplog.text
    accept = [(b"accept", b"application/json")]
    status, fields, body, _ = await call(app, "GET", "/missing", headers=accept)
    assert (fields[b"content-type"], json.loads(body)["status"]) == (b"application/json", 404)
    await app.tree.__aexit__(None, None, None)  # started by the first request


async def test_a_body_over_the_limit_is_a_413() -> None:
    app = application(tree(), limits=Limits(max_body_size=4))
    status, _, _, _ = await call(app, "POST", "/echo", body=[b"abc", b"def"])
    assert status == 413
    assert not app.tree.running  # refused before the tree was needed


async def test_a_handler_that_takes_too_long_is_a_503() -> None:
    class Slow(Component):
        channel = "web"

        @handler("request")
        async def _on_request(self, request: Request, response: Response) -> str:
            await asyncio.Event().wait()
            return "never"

    app = application(Component() + Slow(), timeout=0.05)
    status, _, _, _ = await call(app, "GET", "/")
    assert status == 503
    await app.tree.__aexit__(None, None, None)


async def test_static_files_and_the_access_log(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / "hello.txt").write_text("static hello\n")
    app = application(Component() + Static("/static", docroot=tmp_path) + AccessLog() + Root())
    app.tree += Dispatcher()
    with caplog.at_level(logging.INFO, logger="relays.access"):
        status, fields, body, _ = await call(app, "GET", "/static/hello.txt")
        assert (status, body) == (200, b"static hello\n")
        assert fields[b"content-type"].startswith(b"text/plain")
        await call(app, "GET", "/")
    logged = [record.getMessage() for record in caplog.records if record.name == "relays.access"]
    assert any('"GET /static/hello.txt HTTP/1.1" 200' in line for line in logged)
    assert any('"GET / HTTP/1.1" 200' in line for line in logged)
    await app.tree.__aexit__(None, None, None)


class Peer:
    """An ASGI server's side of one WebSocket: messages in, and a wait for each sent."""

    def __init__(self) -> None:
        self.incoming: asyncio.Queue[Message] = asyncio.Queue()
        self.sent: asyncio.Queue[Message] = asyncio.Queue()

    async def receive(self) -> Message:
        return await self.incoming.get()

    async def send(self, message: Message) -> None:
        await self.sent.put(message)


class Shouter(Component):
    channel = "ws"

    def __init__(self) -> None:
        super().__init__()
        self.gone: asyncio.Future[int | None] | None = None

    def read(self, sock: Any, message: str | bytes) -> str | bytes | None:
        if message == "bye":
            sock.close(4000, "bye now")
            return None
        return message.upper()

    def disconnect(self, sock: Any) -> None:
        if self.gone is not None and not self.gone.done():
            self.gone.set_result(sock.close_code)


def websocket_tree(shouter: Shouter) -> Component:
    from relays_websocket import WebSockets

    return tree() + WebSockets("/ws", subprotocols=["chat"]) + shouter


async def test_a_websocket_the_tree_does_not_switch_is_closed_before_accepting() -> None:
    app = application(tree())
    peer = Peer()
    await peer.incoming.put({"type": "websocket.connect"})
    await app(websocket_scope("/"), peer.receive, peer.send)
    assert await peer.sent.get() == {"type": "websocket.close", "code": 1008}
    await app.tree.__aexit__(None, None, None)


async def open_websocket(shouter: Shouter) -> tuple[Any, Peer, asyncio.Future[None]]:
    """Connect a peer to *shouter* at ``/ws`` through ``application(tree)``; it accepted.

    The app, the peer, and the app's call, which ends when the WebSocket does.
    """
    shouter.gone = asyncio.get_running_loop().create_future()
    app = application(websocket_tree(shouter))
    peer = Peer()
    await peer.incoming.put({"type": "websocket.connect"})
    call = asyncio.ensure_future(app(websocket_scope("/ws"), peer.receive, peer.send))
    accept = await peer.sent.get()
    assert (accept["type"], accept["subprotocol"]) == ("websocket.accept", "chat")
    return app, peer, call


async def test_relays_websocket_messages_go_through_asgi_messages() -> None:
    shouter = Shouter()
    app, peer, call = await open_websocket(shouter)
    await peer.incoming.put({"type": "websocket.receive", "text": "hello"})
    assert await peer.sent.get() == {"type": "websocket.send", "text": "HELLO"}
    await peer.incoming.put({"type": "websocket.receive", "bytes": b"abc"})
    assert await peer.sent.get() == {"type": "websocket.send", "bytes": b"ABC"}
    await peer.incoming.put({"type": "websocket.disconnect", "code": 1001})
    await call
    assert await shouter.gone == 1001
    await app.tree.__aexit__(None, None, None)


async def test_a_relays_websocket_that_closes_is_a_websocket_close() -> None:
    shouter = Shouter()
    app, peer, call = await open_websocket(shouter)
    await peer.incoming.put({"type": "websocket.receive", "text": "bye"})
    closed = await peer.sent.get()
    assert closed == {"type": "websocket.close", "code": 4000, "reason": "bye now"}
    await call  # the app's call ends with the close
    assert await shouter.gone == 4000
    await app.tree.__aexit__(None, None, None)


def test_only_a_root_can_be_an_application() -> None:
    root = tree()
    child = Root().register(root)
    with pytest.raises(ValueError, match="root of a tree"):
        application(child)
