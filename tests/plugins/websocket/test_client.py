"""The client against the ``websockets`` library's server, and against broken servers."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

import pytest

from relays import Component
from relays_websocket import (
    ConnectionClosed,
    InvalidHandshake,
    WebSocket,
    WebSocketClient,
    accept_key,
    connect,
)

pytestmark = pytest.mark.integration

EchoServer = Callable[[], AbstractAsyncContextManager[str]]
RawServerFactory = Callable[
    [],
    AbstractAsyncContextManager[
        tuple[str, "asyncio.Queue[tuple[asyncio.StreamReader, asyncio.StreamWriter]]"]
    ],
]


async def _read_head(reader: asyncio.StreamReader) -> bytes:
    """The request head the client sent."""
    return bytes(await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5))


async def test_messages_round_trip_through_a_websockets_server(echo_server: EchoServer) -> None:
    async with echo_server() as url, connect(url) as ws:
        for message in ["hello", "", "é" * 1000, b"\x00\xff", b"x" * 200_000]:
            await ws.send(message)
            assert await ws.receive() == message
    assert ws.close_code == 1000


async def test_without_compression(echo_server: EchoServer) -> None:
    async with echo_server() as url, connect(url, compression=False) as ws:
        await ws.send("plain")
        assert await ws.receive() == "plain"


async def test_async_for_ends_when_the_server_closes(echo_server: EchoServer) -> None:
    async with echo_server() as url, connect(url) as ws:
        await ws.send("one")
        received = []
        async for message in ws:
            received.append(message)
            ws.close()
        assert received == ["one"]
    with pytest.raises(ConnectionClosed):
        await ws.send("after")


async def test_a_refused_connection_raises_oserror() -> None:
    probe = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = probe.sockets[0].getsockname()[1]
    probe.close()
    await probe.wait_closed()
    with pytest.raises(ConnectionRefusedError):
        async with connect(f"ws://127.0.0.1:{port}/"):
            pass


async def test_a_plain_http_answer_is_an_invalid_handshake(raw_server: RawServerFactory) -> None:
    async with raw_server() as (url, writers):

        async def answer() -> None:
            _, writer = await writers.get()
            writer.write(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")
            await writer.drain()

        task = asyncio.create_task(answer())
        with pytest.raises(InvalidHandshake, match="404"):
            async with connect(url):
                pass
        await task


async def test_a_frame_right_after_the_101_is_read_and_a_bad_one_fails_with_1002(
    raw_server: RawServerFactory,
) -> None:
    messages: list[Any] = []
    done = asyncio.Event()

    class App(Component):
        channel = "ws"

        def read(self, sock: WebSocket, message: str | bytes) -> None:
            messages.append(message)

        def disconnect(self, sock: WebSocket) -> None:
            done.set()

    async with raw_server() as (url, writers):
        client = WebSocketClient(url, compression=False)
        async with client + App():
            reader, writer = await writers.get()
            request = await _read_head(reader)
            key = request.split(b"Sec-WebSocket-Key: ")[1].split(b"\r\n")[0].decode()
            writer.write(
                b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                b"Connection: Upgrade\r\nSec-WebSocket-Accept: "
                + accept_key(key).encode()
                + b"\r\n\r\n\x81\x02hi"  # a text frame in the same packet as the 101
                + b"\x83\x00"  # then a reserved opcode
            )
            await writer.drain()
            await asyncio.wait_for(done.wait(), 5)
    assert messages == ["hi"]
    assert client.websocket is not None
    assert client.websocket.close_code == 1002


async def test_wss_through_relays_sockets_tls(tmp_path: Any) -> None:
    import ssl

    import trustme
    import websockets

    ca = trustme.CA()
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(server_context)
    cafile = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(cafile))

    async def echo(connection: Any) -> None:
        async for message in connection:
            await connection.send(message)

    async with websockets.serve(echo, "127.0.0.1", 0, ssl=server_context) as server:
        port = server.sockets[0].getsockname()[1]
        async with connect(f"wss://127.0.0.1:{port}/", cafile=str(cafile)) as ws:
            assert ws.secure
            await ws.send("over TLS")
            assert await ws.receive() == "over TLS"
