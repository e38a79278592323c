"""Requests relays-http refuses before any handler runs, in the error and access logs."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Callable

import pytest

from relays_http import Limits, Server
from relays_http.testing import serve_in_thread
from relays_logging import AccessLog, ErrorLog

pytestmark = pytest.mark.integration


def exchange(server: Server, data: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
        sock.sendall(data)
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
        return received


MALFORMED = b"GET / HTTP/1.1\r\nHost x\r\n\r\n"
LONG_HEADER = b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"y" * 20_000 + b"\r\n\r\n"
#: Refused in the request line itself, so no request line can be logged.
BROKEN_LINE = b"GET /\x00 HTTP/1.1\r\nHost: x\r\n\r\n"


def test_one_error_line_per_bad_request(serve: Callable[..., Server], capture) -> None:
    errors = capture("relays.error")
    server = serve(ErrorLog())
    assert exchange(server, MALFORMED).startswith(b"HTTP/1.1 400")
    assert exchange(server, LONG_HEADER).startswith(b"HTTP/1.1 431")
    first, second = errors.wait_for(2)
    assert first.startswith("bad request from 127.0.0.1: 400 ")
    assert second == 'bad request from 127.0.0.1: 431 header field too large "GET / HTTP/1.1"'
    time.sleep(0.05)
    assert len(errors.records) == 2
    assert {record.levelname for record in errors.records} == {"WARNING"}


def test_the_request_line_is_logged_when_known(capture) -> None:
    errors = capture("relays.error")
    small = Server("tcp://127.0.0.1:0", limits=Limits(max_body_size=100)) + ErrorLog()
    with serve_in_thread(small) as running:
        body = b"POST /up HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
        body += b"c8\r\n" + b"z" * 200 + b"\r\n0\r\n\r\n"
        assert exchange(running, body).startswith(b"HTTP/1.1 413")
        (line,) = errors.wait_for(1)
    assert line == 'bad request from 127.0.0.1: 413 request body too large "POST /up HTTP/1.1"'


def test_a_flood_is_summarised(serve: Callable[..., Server], capture) -> None:
    errors = capture("relays.error")
    server = serve(ErrorLog(rate=0.001, burst=3, summary_delay=0.2))
    for _ in range(10):
        assert exchange(server, MALFORMED).startswith(b"HTTP/1.1 400")
    lines = errors.wait_for(4)
    assert all(line.startswith("bad request from 127.0.0.1: 400") for line in lines[:3])
    assert lines[3].startswith("suppressed 7 bad-request lines in the last ")
    time.sleep(0.3)
    assert len(errors.records) == 4


def test_refused_requests_get_an_access_line(serve: Callable[..., Server], capture) -> None:
    access = capture("relays.access")
    server = serve(AccessLog(format="json"))
    assert exchange(server, MALFORMED).startswith(b"HTTP/1.1 400")
    assert exchange(server, BROKEN_LINE).startswith(b"HTTP/1.1 400")
    bad_header, bad_line = (json.loads(line) for line in access.wait_for(2))
    for fields in (bad_header, bad_line):
        assert fields["status"] == 400
        assert fields["remote"] == "127.0.0.1"
        assert fields["bytes"] is None
    # A header was refused: the request line before it was whole, and is logged.
    assert (bad_header["method"], bad_header["target"]) == ("GET", "/")
    # The request line itself was refused: nothing of it is trusted.
    assert (bad_line["method"], bad_line["target"]) == (None, None)


def test_refused_request_in_the_combined_format(serve: Callable[..., Server], capture) -> None:
    access = capture("relays.access")
    server = serve(AccessLog())
    assert exchange(server, LONG_HEADER).startswith(b"HTTP/1.1 431")
    assert exchange(server, BROKEN_LINE).startswith(b"HTTP/1.1 400")
    too_large, broken = access.wait_for(2)
    assert too_large.startswith("127.0.0.1 - - [")
    assert too_large.endswith('] "GET / HTTP/1.1" 431 - "-" "-" 0')
    assert broken.endswith('] "-" 400 - "-" "-" 0')
