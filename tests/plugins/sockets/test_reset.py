"""``reset()`` and ``bytes_sent``: dropping a peer that reads too slowly, and measuring it."""

from __future__ import annotations

import asyncio
import socket

import pytest

from relays import Component
from relays_sockets import SocketConnection, TCPServer

pytestmark = pytest.mark.integration

ANSWER = b"x" * (8 * 1024 * 1024)


class Flood(Component):
    """Answers any read with 8 MiB, and keeps the connection."""

    def __init__(self) -> None:
        super().__init__()
        self.connected: asyncio.Future[SocketConnection] = asyncio.Future()

    def read(self, sock: SocketConnection, data: bytes) -> None:
        sock.write(ANSWER)
        if not self.connected.done():
            self.connected.set_result(sock)


async def _peer_that_does_not_read(address: tuple[str, int]) -> socket.socket:
    peer = socket.socket()
    peer.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    peer.setblocking(False)
    await asyncio.get_running_loop().sock_connect(peer, address)
    await asyncio.get_running_loop().sock_sendall(peer, b"go")
    return peer


async def _read_until_the_end(peer: socket.socket) -> tuple[int, bool]:
    """Bytes read, and whether the connection ended with a reset."""
    loop = asyncio.get_running_loop()
    received = 0
    try:
        while chunk := await loop.sock_recv(peer, 65536):
            received += len(chunk)
    except ConnectionResetError:
        return received, True
    return received, False


async def test_reset_drops_what_the_system_still_holds_for_the_peer() -> None:
    app = Flood()
    server = TCPServer(("127.0.0.1", 0))
    async with app + server:
        address = await server.wait_ready()
        peer = await _peer_that_does_not_read(address)
        with peer:
            sock = await asyncio.wait_for(app.connected, 10)
            assert sock.write_buffer_size > 0  # the peer does not read: output waits
            assert 0 < sock.bytes_sent < len(ANSWER)  # what the system took so far
            sock.reset()
            received, reset = await asyncio.wait_for(_read_until_the_end(peer), 30)
    assert reset
    assert received < len(ANSWER)


async def test_bytes_sent_counts_everything_once_the_peer_has_read_it() -> None:
    app = Flood()
    server = TCPServer(("127.0.0.1", 0))
    async with app + server:
        address = await server.wait_ready()
        peer = await _peer_that_does_not_read(address)
        with peer:
            sock = await asyncio.wait_for(app.connected, 10)
            sock.close()  # after what is queued is sent
            received, reset = await asyncio.wait_for(_read_until_the_end(peer), 30)
            await sock.wait_closed()
    assert (received, reset) == (len(ANSWER), False)
    assert sock.bytes_sent == len(ANSWER)
