"""A connection's life over real sockets: half-closing clients, uvloop, graceful stops."""

from __future__ import annotations

import asyncio
import http.client
import socket
import time
from collections.abc import Iterator
from typing import Any

import pytest

import relays
from relays import Component
from relays_http import Request, Response, Server

pytestmark = pytest.mark.integration


class App(Component):
    channel = "web"

    async def request(self, request: Request, response: Response) -> Any:
        if request.path == "/slow":
            await asyncio.sleep(0.3)
            return "slow " * 2000  # several TCP segments
        if request.path == "/echo":
            return await request.read()
        return "hello"


@pytest.fixture
def server() -> Iterator[Server]:
    app = Server("tcp://127.0.0.1:0") + App()
    app.start()
    deadline = time.monotonic() + 5
    while app.address is None and time.monotonic() < deadline:
        time.sleep(0.01)
    assert app.port, "the server did not start listening"
    yield app
    app.stop()


def read_all(sock: socket.socket) -> bytes:
    data = b""
    while chunk := sock.recv(65536):
        data += chunk
    return data


def half_close(server: Server, data: bytes) -> bytes:
    """Send *data*, shut down our sending side, read until the server closes."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
        sock.sendall(data)
        sock.shutdown(socket.SHUT_WR)
        return read_all(sock)


def test_http_10_client_that_half_closes_gets_the_whole_response(server: Server) -> None:
    answer = half_close(server, b"GET /slow HTTP/1.0\r\n\r\n")
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 OK\r\n")
    assert body == b"slow " * 2000


def test_http_11_requests_before_a_half_close_are_all_answered_in_order(server: Server) -> None:
    answer = half_close(
        server,
        b"GET /slow HTTP/1.1\r\nHost: a\r\n\r\n"
        b"POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\n\r\nping"
        b"GET /hello HTTP/1.1\r\nHost: a\r\n\r\n",
    )
    assert answer.count(b"HTTP/1.1 200 OK") == 3
    assert answer.index(b"slow slow") < answer.index(b"ping") < answer.index(b"hello")
    assert answer.endswith(b"hello")


def test_a_half_close_inside_a_request_head_is_a_400(server: Server) -> None:
    answer = half_close(server, b"GET / HTTP/1.1\r\nHo")
    assert answer.startswith(b"HTTP/1.1 400 ")


def test_a_half_close_between_requests_just_closes(server: Server) -> None:
    assert half_close(server, b"") == b""


def test_the_server_keeps_serving_after_half_closed_clients(server: Server) -> None:
    for _ in range(3):
        half_close(server, b"GET / HTTP/1.0\r\n\r\n")
    client = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
    client.request("GET", "/")
    assert client.getresponse().read() == b"hello"
    client.close()


def test_a_request_on_uvloop() -> None:
    pytest.importorskip("uvloop")
    answers: list[bytes] = []

    async def scenario() -> None:
        app = Server("tcp://127.0.0.1:0") + App()
        async with app:
            host, port = await app.wait_ready()
            reader, writer = await asyncio.open_connection(host, port)
            writer.write(b"GET /slow HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
            answers.append(await reader.read())
            writer.close()
            await writer.wait_closed()

    loop = relays.new_event_loop(use_uvloop=True)
    assert type(loop).__module__.startswith("uvloop")
    try:
        loop.run_until_complete(asyncio.wait_for(scenario(), 10))
    finally:
        loop.close()
    head, _, body = answers[0].partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 OK\r\n")
    assert body == b"slow " * 2000
