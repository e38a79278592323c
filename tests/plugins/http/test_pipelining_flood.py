"""A client that pipelines requests and never reads cannot make the server buffer every answer.

The next pipelined request is parsed only once the answers before it are below the
transport's high-water mark (the server awaits the connection's ``drain``).
"""

from __future__ import annotations

import asyncio
import socket
import threading

import pytest

from relays import Component
from relays.testing import MemoryClient, MemoryConnection, MemoryTransport
from relays.transports import Connect
from relays_http import BaseServer, Request, Response, Server
from relays_http.testing import Client, parse_responses, serve_in_thread


class DrainedByTheTest(MemoryConnection):
    """An in-memory connection whose ``drain`` waits until the test says the output left."""

    def __init__(self, transport: MemoryTransport, peer: tuple[str, int]) -> None:
        super().__init__(transport, peer)
        self.drain_called = asyncio.Event()
        self.drained = asyncio.Event()

    async def drain(self) -> None:
        if not self.drained.is_set():  # the output is still there: say so, and wait
            self.drain_called.set()
            await self.drained.wait()
        self.drained.clear()

    def release(self) -> None:
        """The output left: the waiting ``drain`` returns (the next one waits again)."""
        self.drain_called.clear()
        self.drained.set()


class DrainingTransport(MemoryTransport):
    def connect(self, peer: tuple[str, int] | None = None) -> MemoryClient:
        connection = DrainedByTheTest(self, peer or ("127.0.0.1", 40001))
        self.connections.append(connection)
        self.fire(Connect(connection, *connection.peer))
        return MemoryClient(self, connection)


class Counting(Component):
    channel = "web"

    def __init__(self) -> None:
        super().__init__()
        self.handled = 0

    def request(self, request: Request, response: Response) -> str:
        self.handled += 1
        return f"answer {self.handled}"


async def test_the_next_pipelined_request_waits_for_the_answers_to_drain() -> None:
    app = Counting()
    transport = DrainingTransport(channel="web")
    async with BaseServer(transport=transport) + app:
        client = Client(transport)
        connection = client.connection.connection
        assert isinstance(connection, DrainedByTheTest)
        for _ in range(3):
            client.send_request("GET", "/")
        for expected in (1, 2):
            await connection.drain_called.wait()  # the answer is out; the next one waits
            assert app.handled == expected
            connection.release()
        responses = await client.responses(3)
        assert [response.text for response in responses] == ["answer 1", "answer 2", "answer 3"]


async def test_a_connection_closed_while_its_answers_drain_answers_no_more() -> None:
    app = Counting()
    transport = DrainingTransport(channel="web")
    async with BaseServer(transport=transport) + app:
        client = Client(transport)
        connection = client.connection.connection
        assert isinstance(connection, DrainedByTheTest)
        client.send_request("GET", "/")
        client.send_request("GET", "/")
        await connection.drain_called.wait()
        client.close()
        await client.wait_closed()
        assert app.handled == 1


class Big(Component):
    """Answers 64 KiB, noting how much output was still unsent when each request ran."""

    channel = "web"

    def __init__(self) -> None:
        super().__init__()
        self.unsent: list[int] = []

    def request(self, request: Request, response: Response) -> bytes:
        self.unsent.append(request.sock.write_buffer_size)
        return b"x" * 65536


@pytest.mark.integration
def test_a_pipelining_client_that_does_not_read_holds_at_most_a_high_water_mark() -> None:
    app = Big()
    count = 300  # 300 x 64 KiB: about 19 MiB of answers if nothing held them back
    request = b"GET / HTTP/1.1\r\nHost: a\r\n\r\n"
    with (
        serve_in_thread(Server("tcp://127.0.0.1:0") + app) as server,
        socket.socket() as sock,
    ):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
        sock.settimeout(30)
        sock.connect(("127.0.0.1", server.port))
        sender = threading.Thread(target=sock.sendall, args=(request * count,))
        sender.start()
        received = bytearray()
        total = None  # every answer has the same length: known once a head is in
        while total is None or len(received) < total:
            chunk = sock.recv(1 << 20)
            assert chunk, "the server closed the connection"
            received += chunk
            head_end = received.find(b"\r\n\r\n")
            if total is None and head_end >= 0:
                total = count * (head_end + 4 + 65536)
        sender.join(timeout=30)
        assert len(parse_responses(bytes(received))) == count
    assert len(app.unsent) == count
    # Each request ran with at most the high-water mark (256 KiB by default) plus one
    # answer still unsent, however far behind the client was.
    assert max(app.unsent) <= 256 * 1024 + 65536
