"""The socket components on uvloop, whose transports are not asyncio.Transport subclasses."""

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


def test_tcp_echo_on_uvloop() -> None:
    received: list[bytes] = []

    async def scenario() -> None:
        received.append(await echo_over(TCPServer(("127.0.0.1", 0)), b"hello uvloop" * 1000, None))

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
