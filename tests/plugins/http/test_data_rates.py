"""Minimum data rates: a client that sends its body, or reads its answer, too slowly.

A deadline between two reads cannot stop a client that sends one byte every few
seconds, nor one that reads that slowly; the minimum rates (Kestrel's
``MinRequestBodyDataRate`` and ``MinResponseDataRate``) do, once their grace period
has passed. On real sockets, each test with its own server and small limits.
"""

from __future__ import annotations

import asyncio
import http.client
import select
import socket
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from relays import Component, handler
from relays.transports import Connection
from relays_http import Limits, Request, Response, Server
from relays_http.testing import Client, memory_server, parse_responses, serve_in_thread

pytestmark = pytest.mark.integration

#: Pacing of the slow clients below (they are slow on purpose); never a margin waited on.
TRICKLE_INTERVAL = 0.05


class App(Component):
    channel = "web"

    def __init__(self) -> None:
        super().__init__()
        #: Set when a connection that asked for /big is gone.
        self.big_gone = threading.Event()
        self._big: set[Connection] = set()

    async def request(self, request: Request, response: Response) -> Any:
        if request.path == "/big":
            self._big.add(request.sock)
            return (b"x" * 65536 for _ in range(256))  # 16 MiB, streamed
        if request.path == "/echo":
            return {"size": len(await request.read())}
        return "hello"

    @handler("disconnect")
    def _gone(self, sock: Connection) -> None:
        if sock in self._big:
            self.big_gone.set()


def serve(**limits: Any) -> Any:
    return serve_in_thread(Server("tcp://127.0.0.1:0", limits=Limits(**limits)) + App())


def connect(server: Server) -> socket.socket:
    assert server.port is not None
    return socket.create_connection(("127.0.0.1", server.port), timeout=10)


def hello(server: Server) -> bytes:
    client = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
    try:
        client.request("GET", "/")
        return client.getresponse().read()
    finally:
        client.close()


def read_all(sock: socket.socket) -> bytes:
    chunks = []
    try:
        while chunk := sock.recv(1024 * 1024):
            chunks.append(chunk)
    except ConnectionResetError:
        pass
    return b"".join(chunks)


def trickle_body(server: Server, size: int, most: int) -> tuple[bytes, int]:
    """POST /echo with a *size* byte body sent one byte per interval, at most *most* bytes
    or until the server answers; returns what the server sent and how many body bytes
    went. Others are served meanwhile (checked between two bytes)."""
    sent = 0
    with connect(server) as sock:
        sock.sendall(
            b"POST /echo HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: %d\r\n\r\n"
            % size
        )
        try:
            while sent < most:
                if select.select([sock], [], [], TRICKLE_INTERVAL)[0]:
                    break  # the answer came
                sock.sendall(b"y")
                sent += 1
                if sent % 5 == 0:
                    assert hello(server) == b"hello"
        except OSError:
            pass  # the server closed while we sent: its answer is read below
        return read_all(sock), sent


def test_a_body_below_the_minimum_rate_gets_408_after_the_grace_period() -> None:
    # 1 byte per 50 ms is 20 B/s: under 100 B/s once the 0.5 s grace is over. The body
    # would take 100 s; the client gives up after 400 bytes (20 s) if nothing came.
    limits = {"min_request_body_rate": 100, "data_rate_grace_period": 0.5}
    with serve(**limits) as server:
        data, sent = trickle_body(server, 2000, 400)
    [response] = parse_responses(data)
    assert response.status == 408
    assert b"too slowly" in response.body
    assert sent < 400


def test_a_minimum_body_rate_of_0_is_off() -> None:
    # The same trickle, 20 bytes over about a second, past a 0.2 s grace period: with the
    # rate off only body_timeout (between two reads) applies, and the body arrives.
    limits = {"min_request_body_rate": 0, "data_rate_grace_period": 0.2}
    with serve(**limits) as server:
        data, sent = trickle_body(server, 20, 20)
    [response] = parse_responses(data)
    assert (response.status, response.body, sent) == (200, b'{"size":20}', 20)


def test_a_client_reading_below_the_minimum_rate_is_dropped() -> None:
    limits = {"min_response_rate": 100_000, "data_rate_grace_period": 0.5}
    app_server = Server("tcp://127.0.0.1:0", limits=Limits(**limits))
    app = App()
    with serve_in_thread(app_server + app) as server, connect(server) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.sendall(b"GET /big HTTP/1.1\r\nHost: x\r\n\r\n")
        # It reads nothing: the server's output waits, its rate is 0, and after the
        # grace period the connection is dropped.
        assert app.big_gone.wait(20), "the slow reader was never dropped"
        assert hello(server) == b"hello"
        data = read_all(sock)
    assert data.startswith(b"HTTP/1.1 200 ")
    assert len(data) < 16 * 1024 * 1024  # cut short


def test_a_client_reading_fast_enough_gets_the_whole_answer() -> None:
    # A reader that keeps reading is far above 1 KB/s; the grace period is generous, as
    # the reader shares the interpreter (and a loaded machine) with the server.
    limits = {"min_response_rate": 1000, "data_rate_grace_period": 3}
    with serve(**limits) as server, connect(server) as sock:
        sock.sendall(b"GET /big HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        data = read_all(sock)
    [response] = parse_responses(data)
    assert (response.status, len(response.body)) == (200, 16 * 1024 * 1024)


@pytest.mark.parametrize("value", [-1, "fast", True])
def test_a_rate_must_be_0_or_positive(value: Any) -> None:
    with pytest.raises(ValueError, match="min_request_body_rate must be 0 \\(off\\)"):
        Limits(min_request_body_rate=value)


def test_the_rates_are_on_by_default() -> None:
    limits = Limits()
    assert (limits.min_request_body_rate, limits.min_response_rate) == (240, 240)
    assert limits.data_rate_grace_period == 5


@pytest.fixture(autouse=True)
def _bounded() -> Iterator[None]:
    """These tests pace slow clients: none may hang the run."""
    socket.setdefaulttimeout(30)
    try:
        yield
    finally:
        socket.setdefaulttimeout(None)


class Streaming(Component):
    channel = "web"

    async def request(self, request: Request, response: Response) -> str:
        size = 0
        async for chunk in request.stream():
            size += len(chunk)
        return f"streamed {size}"


async def test_a_streamed_body_is_not_measured_against_the_rate() -> None:
    # Its handler sets the pace too: only body_timeout bounds the client's pauses. Any
    # measured body would be too slow for a billion bytes a second.
    limits = Limits(min_request_body_rate=1e9, data_rate_grace_period=0.05)
    server, transport = memory_server(Streaming(), limits=limits)
    server.http.stream_bodies("/")
    async with server:
        client = Client(transport)
        client.send(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc")
        # The sweep's timer (every 20 ms here) comes due before this one: sweeps run.
        await asyncio.sleep(0.2)
        client.send(b"defghij")
        assert (await client.response()).text == "streamed 10"


async def test_a_buffered_body_is_measured_against_the_rate() -> None:
    # The same client on a buffered request: cut by the sweeps once the grace is over.
    limits = Limits(min_request_body_rate=1e9, data_rate_grace_period=0.05)
    server, transport = memory_server(Streaming(), limits=limits)
    async with server:
        client = Client(transport)
        client.send(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc")
        [response] = parse_responses(await client.wait_closed())
        assert response.status == 408
