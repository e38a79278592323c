"""Real sockets: the ``websockets`` library's client against our server, and slow readers."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator
from typing import Any

import pytest
import websockets

from relays import Component
from relays_http import Server
from relays_websocket import Broadcast, WebSocket, WebSockets, connect

pytestmark = pytest.mark.integration


class Echo(Component):
    channel = "ws"

    def read(self, sock: WebSocket, message: str | bytes) -> str | bytes:
        return message


@contextlib.asynccontextmanager
async def serving(*components: Any, **options: Any) -> AsyncIterator[tuple[str, WebSockets]]:
    server = Server(("127.0.0.1", 0))
    endpoint = WebSockets("/ws", **options)
    server += endpoint
    for component in components:
        server += component
    async with server:
        host, port = await server.wait_ready()
        yield f"ws://{host}:{port}/ws", endpoint


@pytest.mark.parametrize("compression", ["deflate", None])
async def test_the_websockets_client_talks_to_our_server(compression: str | None) -> None:
    async with (
        serving(Echo()) as (url, _),
        websockets.connect(url, compression=compression, max_size=None) as client,
    ):
        for message in ["hello", "é" * 10_000, b"\x00" * 300_000, b""]:
            await client.send(message)
            assert await client.recv() == message
        await client.send(["frag", "mented"])  # a fragmented message
        assert await client.recv() == "fragmented"
        pong = await client.ping(b"are you there")
        await asyncio.wait_for(pong, 5)
    assert client.close_code == 1000


async def test_our_client_talks_to_our_server() -> None:
    async with serving(Echo()) as (url, _), connect(url) as ws:
        await ws.send("both ours")
        assert await ws.receive() == "both ours"


async def test_a_slow_reader_pauses_the_sender_and_memory_stays_bounded() -> None:
    buffered: list[int] = []
    finished = asyncio.Event()
    chunk = b"x" * 65536

    async def session(sock: WebSocket) -> None:
        for _ in range(200):  # 12.5 MiB for a client that does not read yet
            await sock.send(chunk)
            buffered.append(sock.connection.write_buffer_size)  # type: ignore[attr-defined]
        finished.set()
        await sock.wait_closed()

    async with (
        serving(session=session) as (url, _),
        websockets.connect(url, max_size=None, max_queue=1) as client,
    ):
        for _ in range(200):
            assert await client.recv() == chunk
        await asyncio.wait_for(finished.wait(), 10)
    high_water = 256 * 1024  # relays-sockets' default write_high_water
    assert max(buffered) <= high_water + len(chunk) + 16


class Watch(Component):
    """Sets ``two`` once two sockets are open and records how each one ended."""

    channel = "ws"

    def __init__(self) -> None:
        super().__init__()
        self.open = 0
        self.two = asyncio.Event()
        self.ended: list[int | None] = []
        self.dropped = asyncio.Event()

    def connect(self, sock: WebSocket) -> None:
        self.open += 1
        if self.open == 2:
            self.two.set()

    def disconnect(self, sock: WebSocket) -> None:
        self.ended.append(sock.close_code)
        if sock.close_code == 1008:
            self.dropped.set()


async def test_a_client_that_never_reads_is_dropped_and_others_get_everything() -> None:
    watch = Watch()
    async with serving(watch, max_outgoing=512 * 1024) as (url, endpoint):
        host, port = url.removeprefix("ws://").removesuffix("/ws").split(":")
        silent = socket.socket()
        silent.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        silent.connect((host, int(port)))
        try:
            silent.sendall(
                b"GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
            )
            async with websockets.connect(url, max_size=None) as client:
                await asyncio.wait_for(watch.two.wait(), 5)
                chunk = b"y" * 65536
                for _ in range(400):  # 25 MiB: far more than the socket buffers hold
                    endpoint.endpoint.fire(Broadcast(chunk), "ws")
                for _ in range(400):
                    assert await client.recv() == chunk
                await asyncio.wait_for(watch.dropped.wait(), 5)
        finally:
            silent.close()
    assert watch.ended.count(1008) == 1
