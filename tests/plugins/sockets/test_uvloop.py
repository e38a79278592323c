"""The socket components on uvloop: with relays' own transport (a plain server's
default) and with uvloop's, whose transports are not asyncio.Transport subclasses."""

from __future__ import annotations

import asyncio
import ssl

import pytest

import relays
from relays import Component
from relays_sockets import SocketConnection, TCPServer

pytest.importorskip("uvloop")

pytestmark = pytest.mark.integration


class Echo(Component):
    def read(self, sock: SocketConnection, data: bytes) -> bytes:
        return data


def run_on_uvloop(scenario: object) -> None:
    loop = relays.new_event_loop(use_uvloop=True)
    assert type(loop).__module__.startswith("uvloop")
    try:
        loop.run_until_complete(asyncio.wait_for(scenario, 10))  # type: ignore[arg-type]
    finally:
        loop.close()


async def echo_over(server: TCPServer, message: bytes, context: ssl.SSLContext | None) -> bytes:
    async with Echo() + server:
        host, port = await server.wait_ready()
        reader, writer = await asyncio.open_connection(host, port, ssl=context)
        writer.write(message)
        received = await reader.readexactly(len(message))
        writer.close()
        await writer.wait_closed()
        return received


@pytest.mark.parametrize("fast_transport", [True, False], ids=["ours", "uvloop's"])
def test_tcp_echo_on_uvloop(fast_transport: bool) -> None:
    received: list[bytes] = []

    async def scenario() -> None:
        server = TCPServer(("127.0.0.1", 0), fast_transport=fast_transport)
        received.append(await echo_over(server, b"hello uvloop" * 1000, None))

    run_on_uvloop(scenario())
    assert received == [b"hello uvloop" * 1000]


def test_tls_echo_on_uvloop(
    server_context: ssl.SSLContext, client_context: ssl.SSLContext
) -> None:
    received: list[bytes] = []

    async def scenario() -> None:
        server = TCPServer(("127.0.0.1", 0), ssl_context=server_context)
        received.append(await echo_over(server, b"secret", client_context))

    run_on_uvloop(scenario())
    assert received == [b"secret"]


class FileSender(Component):
    """Answers any read by sending a file with sendfile (uvloop's loop has none)."""

    def __init__(self, path: str) -> None:
        super().__init__(channel="server")
        self.path = path

    async def read(self, sock: SocketConnection, data: bytes) -> None:
        with open(self.path, "rb") as file:  # noqa: ASYNC230 - a local file, opened once
            sent = await sock.sendfile(file, 10)
        assert sent == 700_000 - 10
        sock.close()


def test_sendfile_copies_by_hand_on_uvloop(tmp_path: object) -> None:
    import pathlib

    path = pathlib.Path(str(tmp_path)) / "payload.bin"
    payload = bytes(range(256)) * (700_000 // 256) + bytes(700_000 % 256)
    path.write_bytes(payload)

    async def scenario() -> bytes:
        server = TCPServer(("127.0.0.1", 0))
        async with FileSender(str(path)) + server:
            host, port = await server.wait_ready()
            reader, writer = await asyncio.open_connection(host, port)
            writer.write(b"go")
            received = await reader.read()
            writer.close()
            await writer.wait_closed()
            return received

    loop = relays.new_event_loop(use_uvloop=True)
    try:
        received = loop.run_until_complete(asyncio.wait_for(scenario(), 10))
    finally:
        loop.close()
    assert received == payload[10:]


@pytest.mark.parametrize(
    ("high", "low"), [(256 * 1024, 64 * 1024), (64 * 1024, 16 * 1024)], ids=["ours", "uvloop's"]
)
def test_the_write_limits_reach_uvloop_transports(high: int, low: int) -> None:
    # uvloop's transports start with asyncio's limits: a connection skips setting equal ones.
    limits: list[tuple[int, int]] = []

    async def scenario() -> None:
        server = TCPServer(
            ("127.0.0.1", 0), write_high_water=high, write_low_water=low, fast_transport=False
        )
        async with Echo() + server:
            host, port = await server.wait_ready()
            reader, writer = await asyncio.open_connection(host, port)
            writer.write(b"x")
            await reader.readexactly(1)
            (sock,) = server.connections
            limits.append(sock._transport.get_write_buffer_limits())
            writer.close()
            await writer.wait_closed()

    run_on_uvloop(scenario())
    assert limits == [(low, high)]
