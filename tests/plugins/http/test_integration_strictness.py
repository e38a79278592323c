"""Strict request parsing on loopback: what a smuggling proxy could read differently is a 400."""

from __future__ import annotations

import socket

import pytest

from relays import Component
from relays_http import Request, Response, Server
from relays_http.testing import parse_responses, serve_in_thread

pytestmark = pytest.mark.integration


class Hello(Component):
    channel = "web"

    def request(self, request: Request, response: Response) -> str:
        return "hello"


def exchange(port: int, data: bytes) -> bytes:
    """Send *data*, half-close, and read until the server closes."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(data)
        sock.shutdown(socket.SHUT_WR)
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
        return received


@pytest.mark.parametrize(
    "data",
    [
        b"GET * HTTP/1.1\r\nHost: a\r\n\r\n",
        b"GET example.com:80 HTTP/1.1\r\nHost: a\r\n\r\n",
        b"CONNECT / HTTP/1.1\r\nHost: a\r\n\r\n",
        b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\nhi",
        b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 2, 2\r\n\r\nhi",
        b"POST / HTTP/1.1\r\nHost: a\r\nContent-Type: a/b\r\nContent-Type: c/d\r\n"
        b"Content-Length: 2\r\n\r\nhi",
        b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n2;\r\nhi\r\n0\r\n\r\n",
    ],
)
def test_ambiguous_requests_are_refused_over_a_socket(data: bytes) -> None:
    with serve_in_thread(Server("tcp://127.0.0.1:0") + Hello()) as server:
        assert server.port is not None
        (response,) = parse_responses(exchange(server.port, data))
        assert response.status == 400


def test_the_usual_forms_are_answered_over_a_socket() -> None:
    with serve_in_thread(Server("tcp://127.0.0.1:0") + Hello()) as server:
        assert server.port is not None
        data = (
            b"OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n"
            b"GET http://a/x HTTP/1.1\r\nHost: a\r\n\r\n"
            b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
            b"2;name=value\r\nhi\r\n0\r\n\r\n"
        )
        responses = parse_responses(exchange(server.port, data))
        assert [response.status for response in responses] == [200, 200, 200]
