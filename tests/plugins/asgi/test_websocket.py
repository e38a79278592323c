"""The websocket scope, through relays-websocket, driven by the ``websockets`` client."""

from __future__ import annotations

import logging
import threading
import urllib.error
import urllib.request
from typing import Any

import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect

from relays_asgi import Asgi
from relays_http import Server
from relays_http.testing import serve_in_thread

pytestmark = pytest.mark.integration

Scope = dict[str, Any]
TIMEOUT = 10


class EchoApp:
    """Echoes messages; records the scope and how the socket ended."""

    def __init__(self) -> None:
        self.scopes: list[Scope] = []
        self.disconnects: list[dict[str, Any]] = []
        self.ended = threading.Event()

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "websocket":
            return
        self.scopes.append(scope)
        assert (await receive()) == {"type": "websocket.connect"}
        path = scope["path"]
        if path.endswith("/refuse"):
            await send({"type": "websocket.close", "code": 1008})
            return
        if path.endswith("/fail-before"):
            raise RuntimeError("failed before accepting")
        subprotocol = "chat" if "chat" in scope["subprotocols"] else None
        await send(
            {
                "type": "websocket.accept",
                "subprotocol": subprotocol,
                "headers": [(b"x-accepted", b"yes")],
            }
        )
        try:
            while True:
                message = await receive()
                if message["type"] == "websocket.disconnect":
                    self.disconnects.append(message)
                    return
                if message.get("text") == "fail":
                    raise RuntimeError("failed while open")
                if message.get("text") == "bye":
                    await send({"type": "websocket.close", "code": 4000, "reason": "bye"})
                    continue
                if message.get("text") is not None:
                    await send({"type": "websocket.send", "text": "echo " + message["text"]})
                else:
                    await send({"type": "websocket.send", "bytes": message["bytes"][::-1]})
        finally:
            self.ended.set()


def ws_url(server: Server, path: str) -> str:
    return server.url.replace("http://", "ws://").rstrip("/") + path


def test_messages_go_both_ways_with_the_scope_complete() -> None:
    app = EchoApp()
    with serve_in_thread(Server("tcp://127.0.0.1:0") + Asgi(app, "/live")) as server:
        url = ws_url(server, "/live/room?x=1")
        with connect(url, subprotocols=["chat", "other"], open_timeout=TIMEOUT) as client:
            assert client.subprotocol == "chat"
            assert client.response.headers["x-accepted"] == "yes"
            client.send("hello")
            assert client.recv(TIMEOUT) == "echo hello"
            client.send(b"\x01\x02\x03")
            assert client.recv(TIMEOUT) == b"\x03\x02\x01"
            client.close(code=4001, reason="done")
        assert app.ended.wait(TIMEOUT)
    scope = app.scopes[0]
    assert (scope["type"], scope["scheme"], scope["path"]) == ("websocket", "ws", "/live/room")
    assert (scope["root_path"], scope["query_string"]) == ("/live", b"x=1")
    assert scope["subprotocols"] == ["chat", "other"]
    assert "method" not in scope
    assert app.disconnects[0]["code"] == 4001


def test_the_app_closing_the_socket_sends_its_code() -> None:
    app = EchoApp()
    with (
        serve_in_thread(Server("tcp://127.0.0.1:0") + Asgi(app)) as server,
        connect(ws_url(server, "/"), open_timeout=TIMEOUT) as client,
    ):
        client.send("bye")
        with pytest.raises(ConnectionClosed) as closed:
            client.recv(TIMEOUT)
        assert closed.value.rcvd is not None
        assert (closed.value.rcvd.code, closed.value.rcvd.reason) == (4000, "bye")


def test_closing_before_accepting_is_a_403() -> None:
    app = EchoApp()
    with serve_in_thread(Server("tcp://127.0.0.1:0") + Asgi(app)) as server:
        with pytest.raises(InvalidStatus) as refused:
            connect(ws_url(server, "/refuse"), open_timeout=TIMEOUT)
        assert refused.value.response.status_code == 403


def test_failing_before_accepting_is_a_500_and_while_open_a_1011(
    caplog: pytest.LogCaptureFixture,
) -> None:
    app = EchoApp()
    with (
        caplog.at_level(logging.ERROR, logger="relays.asgi"),
        serve_in_thread(Server("tcp://127.0.0.1:0") + Asgi(app)) as server,
    ):
        with pytest.raises(InvalidStatus) as refused:
            connect(ws_url(server, "/fail-before"), open_timeout=TIMEOUT)
        assert refused.value.response.status_code == 500
        with connect(ws_url(server, "/"), open_timeout=TIMEOUT) as client:
            client.send("fail")
            with pytest.raises(ConnectionClosed) as closed:
                client.recv(TIMEOUT)
            assert closed.value.rcvd is not None
            assert closed.value.rcvd.code == 1011
    messages = [record.getMessage() for record in caplog.records if record.name == "relays.asgi"]
    assert len(messages) == 2
    assert "before accepting" in messages[0]
    assert "while its WebSocket was open" in messages[1]


def test_a_plain_request_to_a_websocket_app_still_gets_an_http_answer() -> None:
    async def both(scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            await send({"type": "http.response.start", "status": 200, "headers": []})
            await send({"type": "http.response.body", "body": b"plain"})

    with serve_in_thread(Server("tcp://127.0.0.1:0") + Asgi(both)) as server:
        with urllib.request.urlopen(server.url, timeout=TIMEOUT) as response:
            assert response.read() == b"plain"
        # A broken handshake never reaches the app: relays-websocket's 400/426.
        request = urllib.request.Request(server.url, headers={"Upgrade": "websocket"})
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(request, timeout=TIMEOUT)
        refused.value.close()
        assert refused.value.code in (400, 426)
