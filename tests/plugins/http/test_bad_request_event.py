"""The ``bad_request`` event: requests the server refuses before any handler runs."""

from __future__ import annotations

import socket
import threading
from typing import Any

import pytest

from relays import Component, handler
from relays.transports import Connection
from relays_http import BadRequestEvent, Limits, Request, Response, Server
from relays_http.testing import serve_in_thread

pytestmark = pytest.mark.integration


class Watcher(Component):
    channel = "web"

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[tuple[Any, int, str, bytes | None]] = []
        self.changed = threading.Condition()

    async def request(self, request: Request, response: Response) -> str:
        return "hello"

    @handler("bad_request")
    def _on_bad_request(
        self, sock: Connection, status: int, reason: str, request_line: bytes | None
    ) -> None:
        with self.changed:
            self.seen.append((sock.peer, status, reason, request_line))
            self.changed.notify_all()

    def wait_for(self, count: int) -> list[tuple[Any, int, str, bytes | None]]:
        with self.changed:
            assert self.changed.wait_for(lambda: len(self.seen) >= count, 5), self.seen
        return self.seen


def exchange(server: Server, data: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
        sock.sendall(data)
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
        return received


def test_the_event_is_named_bad_request() -> None:
    assert BadRequestEvent.name == "bad_request"


def test_malformed_head_too_long_header_body_too_large_and_bad_request_line() -> None:
    watcher = Watcher()
    limits = Limits(max_header_size=256, max_body_size=1024)
    with serve_in_thread(Server("tcp://127.0.0.1:0", limits=limits) + watcher) as server:
        assert exchange(server, b"GET / HTTP/1.1\r\nHost x\r\n\r\n").startswith(b"HTTP/1.1 400")
        long = b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"y" * 1000 + b"\r\n\r\n"
        assert exchange(server, long).startswith(b"HTTP/1.1 431")
        big = b"POST /up?a=1 HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\n"
        assert exchange(server, big).startswith(b"HTTP/1.1 413")
        chunked = b"POST /c HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
        chunked += b"800\r\n" + b"z" * 2048 + b"\r\n0\r\n\r\n"
        assert exchange(server, chunked).startswith(b"HTTP/1.1 413")
        bad_line = b"GET /a b HTTP/1.1\r\nHost: x\r\n\r\n"
        assert exchange(server, bad_line).startswith(b"HTTP/1.1 400")
        seen = watcher.wait_for(5)
    assert [(status, line) for _, status, _, line in seen] == [
        # The request line arrived whole and valid: it is kept, whatever broke below it.
        (400, b"GET / HTTP/1.1"),
        (431, b"GET / HTTP/1.1"),
        (413, b"POST /up?a=1 HTTP/1.1"),  # refused by its Content-Length, in the head
        (413, b"POST /c HTTP/1.1"),  # refused while its body arrived
        (400, None),  # the request line itself was bad
    ]
    assert all(peer[0] == "127.0.0.1" for peer, *_ in seen)
    assert seen[1][2] == "header field too large"


def test_timeout_and_connection_limit() -> None:
    watcher = Watcher()
    limits = Limits(max_connections=1, header_timeout=0.2)
    with serve_in_thread(Server("tcp://127.0.0.1:0", limits=limits) + watcher) as server:
        with socket.create_connection(("127.0.0.1", server.port), timeout=5) as first:
            first.sendall(b"GET / HTTP/1.1\r\n")
            # (A client that connected and said nothing would not count yet: the
            # system holds it until its first bytes, see test_defer_accept.)
            assert exchange(server, b"GET / HTTP/1.1\r\n").startswith(b"HTTP/1.1 503")
            assert first.recv(1024).startswith(b"HTTP/1.1 408")
        seen = watcher.wait_for(2)
    assert [(status, reason) for _, status, reason, _ in seen] == [
        (503, "too many connections; retry later"),
        (408, "timed out receiving the request head"),
    ]
