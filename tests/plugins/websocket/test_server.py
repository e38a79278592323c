"""The server: handshake checks, events, the async API, groups, bad and slow clients."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from relays import Component
from relays.testing import MemoryTransport
from relays_http import Server
from relays_http.testing import Client
from relays_websocket import (
    Broadcast,
    Close,
    ConnectionClosed,
    InvalidHandshake,
    WebSocket,
    WebSockets,
    Write,
)
from relays_websocket.testing import WebSocketTestClient
from relays_websocket.testing.strategies import encode_frame


class Chat(Component):
    """Echoes what it reads, and records the events it saw."""

    channel = "ws"

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[tuple[str, Any]] = []
        self.gone = asyncio.Event()

    def connect(self, sock: WebSocket) -> None:
        self.seen.append(("connect", sock.path))

    def read(self, sock: WebSocket, message: str | bytes) -> str | bytes | None:
        self.seen.append(("read", message))
        return None if message == "quiet" else message

    def disconnect(self, sock: WebSocket) -> None:
        self.seen.append(("disconnect", sock.close_code))
        self.gone.set()


def app(**options: Any) -> tuple[MemoryTransport, Server, WebSockets, Chat]:
    transport = MemoryTransport(channel="web")
    server = Server(transport=transport)
    endpoint = WebSockets("/ws", **options)
    chat = Chat()
    server += endpoint
    server += chat
    return transport, server, endpoint, chat


async def test_events_in_order_and_a_returned_message_is_sent_back() -> None:
    transport, server, _, chat = app()
    async with server:
        client = WebSocketTestClient(transport)
        await client.open("/ws")
        client.send("hello")
        assert await client.receive() == "hello"
        client.send(b"\x00\x01")
        assert await client.receive() == b"\x00\x01"
        closing = await client.close(4001, "bye")
        assert (closing.code, closing.reason) == (4001, "")
        await asyncio.wait_for(chat.gone.wait(), 5)
    assert chat.seen == [
        ("connect", "/ws"),
        ("read", "hello"),
        ("read", b"\x00\x01"),
        ("disconnect", 4001),
    ]


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        (
            [("Upgrade", "websocket"), ("Connection", "Upgrade"), ("Sec-WebSocket-Version", "13")],
            400,  # no key
        ),
        (
            [
                ("Upgrade", "websocket"),
                ("Connection", "Upgrade"),
                ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="),
                ("Sec-WebSocket-Version", "8"),
            ],
            426,
        ),
    ],
)
async def test_a_bad_handshake_is_an_http_error(
    headers: list[tuple[str, str]], status: int
) -> None:
    transport, server, _, _ = app()
    async with server:
        response = await Client(transport).get("/ws", headers=headers)
        assert response.status == status


async def test_a_plain_get_is_told_to_upgrade() -> None:
    transport, server, _, _ = app()
    async with server:
        response = await Client(transport).get("/ws")
        assert response.status == 426
        assert response.headers["Sec-WebSocket-Version"] == "13"  # looked up in any case
        assert response.headers["upgrade"] == "websocket"
        # The refusal writes its header names in lower case, as relays-http does its own.
        assert {"sec-websocket-version", "upgrade"} <= set(response.headers)


async def test_the_origin_policy_refuses_with_403() -> None:
    transport, server, _, _ = app(origins=["https://chat.example"])
    async with server:
        with pytest.raises(InvalidHandshake) as refused:
            await WebSocketTestClient(transport).open(
                "/ws", headers=[("Origin", "https://evil.example")]
            )
        assert refused.value.status == 403
        client = WebSocketTestClient(transport)
        await client.open("/ws", headers=[("Origin", "https://chat.example")])


async def test_authorize_sees_the_request() -> None:
    def authorize(request: Any) -> bool:
        return request.headers.get("authorization") == "Bearer secret"

    transport, server, _, _ = app(authorize=authorize)
    async with server:
        with pytest.raises(InvalidHandshake):
            await WebSocketTestClient(transport).open("/ws")
        await WebSocketTestClient(transport).open(
            "/ws", headers=[("Authorization", "Bearer secret")]
        )


async def test_a_subprotocol_is_negotiated() -> None:
    transport, server, _, _ = app(subprotocols=["chat.v2", "chat.v1"])
    async with server:
        picked = await WebSocketTestClient(transport).open(
            "/ws", subprotocols=["chat.v1", "chat.v2"]
        )
        assert picked == "chat.v2"
        assert await WebSocketTestClient(transport).open("/ws", subprotocols=["x"]) is None


async def test_write_close_and_broadcast_events() -> None:
    transport, server, endpoint, chat = app()
    async with server:
        clients = [WebSocketTestClient(transport) for _ in range(3)]
        for client in clients:
            await client.open("/ws")
        client.send("quiet")  # the last one: wait until the server knows all three
        await server.wait("read", "ws")
        first, second, third = sorted(endpoint.sockets, key=lambda sock: sock.peer)
        endpoint.join(first, "room")
        endpoint.join(third, "room")
        chat.fire(Broadcast("to all"), "ws")
        chat.fire(Broadcast("to the room", "room", exclude=third), "ws")
        chat.fire(Write(second, b"just you"), "ws")
        chat.fire(Close(second, 4000, "done"), "ws")
        assert [await clients[0].receive() for _ in range(2)] == ["to all", "to the room"]
        assert await clients[1].receive() == "to all"
        assert await clients[1].receive() == b"just you"
        assert (await clients[1].wait_closed()).code == 4000
        assert await clients[2].receive() == "to all"


async def test_the_async_api_runs_a_session_per_connection() -> None:
    async def session(sock: WebSocket) -> None:
        await sock.send(f"welcome {sock.subprotocol}")
        async for message in sock:
            await sock.send(f"you said {message}")

    transport, server, _, _ = app(session=session, subprotocols=["talk"])
    async with server:
        client = WebSocketTestClient(transport)
        await client.open("/ws", subprotocols=["talk"])
        assert await client.receive() == "welcome talk"
        client.send("hi")
        assert await client.receive() == "you said hi"
        assert (await client.close()).code == 1000


async def test_a_failing_session_closes_with_1011_not_a_traceback(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def session(sock: WebSocket) -> None:
        raise RuntimeError("bug")

    transport, server, _, _ = app(session=session)
    async with server:
        client = WebSocketTestClient(transport)
        await client.open("/ws")
        assert (await client.wait_closed()).code == 1011
    assert "bug" in caplog.text


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        (encode_frame(0x1, b"\xff", mask=b"abcd"), 1007),
        (encode_frame(0x2, b"x" * 2000, mask=b"abcd"), 1009),
        (encode_frame(0x1, b"x"), 1002),  # unmasked
    ],
)
async def test_a_bad_client_is_closed_with_its_code_and_others_carry_on(
    frame: bytes, code: int
) -> None:
    transport, server, _, _ = app(max_message=1000, max_frame=1000)
    async with server:
        good = WebSocketTestClient(transport)
        await good.open("/ws")
        bad = WebSocketTestClient(transport)
        await bad.open("/ws")
        bad.send_raw(frame)
        assert (await bad.wait_closed()).code == code
        good.send("still here")
        assert await good.receive() == "still here"
    with pytest.raises(ConnectionClosed):
        await bad.receive()


def _server_frames(data: bytes) -> list[tuple[int, bytes]]:
    """Split what a server sent into (opcode, payload): unmasked control frames only.

    Searching the bytes for a close opcode is not enough: a ping's random payload may
    hold the same byte.
    """
    frames = []
    while data:
        opcode, length = data[0] & 0x0F, data[1] & 0x7F
        assert length < 126
        assert not data[1] & 0x80
        frames.append((opcode, data[2 : 2 + length]))
        data = data[2 + length :]
    return frames


async def test_a_silent_peer_is_pinged_and_closed_with_1011_when_it_never_answers() -> None:
    transport, server, _, chat = app(ping_interval=0.05, ping_timeout=0.05)
    async with server:
        client = WebSocketTestClient(transport)
        await client.open("/ws")
        # Never read: the pings go unanswered. Wait for the server to hang up.
        received = await client.connection.wait(lambda data: False, timeout=10)
        frames = _server_frames(received)
        assert frames[0][0] == 0x9  # a ping came first
        opcode, payload = frames[-1]
        assert opcode == 0x8
        assert payload[:2] == (1011).to_bytes(2, "big")
        await asyncio.wait_for(chat.gone.wait(), 5)
    assert chat.seen[-1] == ("disconnect", 1011)


async def test_a_peer_that_answers_pings_stays_open() -> None:
    transport, server, endpoint, _ = app(ping_interval=0.02, ping_timeout=0.5)
    async with server:
        client = WebSocketTestClient(transport)
        await client.open("/ws")
        while client.pings_received < 5:  # reading answers each ping with a pong
            await client.poll()
        client.send("still open")
        assert await client.receive() == "still open"
        assert len(endpoint.sockets) == 1
