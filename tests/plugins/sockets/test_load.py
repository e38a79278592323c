"""A bounded load test: 500 concurrent connections each echo 100 messages, in order."""

from __future__ import annotations

import asyncio

import pytest

from relays import Component
from relays_sockets import SocketConnection, TCPServer

pytestmark = [pytest.mark.integration, pytest.mark.slow]

CONNECTIONS = 500
MESSAGES = 100
WINDOW = 10  # messages in flight per connection
TIME_LIMIT = 40.0


class Echo(Component):
    def __init__(self) -> None:
        super().__init__()
        self.gone = 0
        self.all_gone = asyncio.Event()

    def read(self, sock: SocketConnection, data: bytes) -> bytes:
        return data

    def disconnect(self, sock: SocketConnection) -> None:
        self.gone += 1
        if self.gone == CONNECTIONS:
            self.all_gone.set()


async def talk(address: tuple[str, int], number: int) -> bytes:
    reader, writer = await asyncio.open_connection(*address)
    received = []
    try:
        for start in range(0, MESSAGES, WINDOW):
            batch = b"".join(
                b"%d:%d:%s\n" % (number, index, b"." * (index % 50))
                for index in range(start, start + WINDOW)
            )
            writer.write(batch)
            received.append(await reader.readexactly(len(batch)))
    finally:
        writer.close()
        await writer.wait_closed()
    return b"".join(received)


def expected(number: int) -> bytes:
    return b"".join(
        b"%d:%d:%s\n" % (number, index, b"." * (index % 50)) for index in range(MESSAGES)
    )


async def test_500_connections_echo_100_messages_each_in_order() -> None:
    server = TCPServer(("127.0.0.1", 0))
    echo = Echo()
    async with echo + server:
        address = await server.wait_ready()
        results = await asyncio.wait_for(
            asyncio.gather(*(talk(address, number) for number in range(CONNECTIONS))),
            TIME_LIMIT,
        )
        for number, result in enumerate(results):
            assert result == expected(number), f"connection {number} lost or reordered data"
        # Every connection was accepted and has gone again.
        await asyncio.wait_for(echo.all_gone.wait(), TIME_LIMIT)
        assert not server.connections
