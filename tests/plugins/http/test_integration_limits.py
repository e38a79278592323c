"""Every limit of the server on real sockets, with curl and raw clients.

Each test runs its own server with small limits, so each refusal is seen the way
a client sees it (status, and the connection closed), and slow or greedy clients
are shown not to hold the others up.
"""

from __future__ import annotations

import http.client
import select
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from relays import Component
from relays_http import Limits, Request, Response, Server
from relays_http.testing import parse_responses, serve_in_thread

pytestmark = pytest.mark.integration

needs_curl = pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")


class App(Component):
    channel = "web"

    async def request(self, request: Request, response: Response) -> Any:
        if request.path == "/big":
            return (b"x" * 65536 for _ in range(256))  # 16 MiB, streamed
        if request.path == "/echo":
            return {"size": len(await request.read())}
        return "hello"


def server_with(**limits: Any) -> Server:
    return Server("tcp://127.0.0.1:0", limits=Limits(**limits)) + App()


def connect(server: Server) -> socket.socket:
    assert server.port is not None
    return socket.create_connection(("127.0.0.1", server.port), timeout=5)


def read_all(sock: socket.socket) -> bytes:
    data = b""
    while chunk := sock.recv(65536):
        data += chunk
    return data


def hello(server: Server) -> bytes:
    """One request from http.client on a connection of its own."""
    client = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
    try:
        client.request("GET", "/")
        return client.getresponse().read()
    finally:
        client.close()


def curl(*arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["curl", "--http1.1", "-sS", "--max-time", "10", *arguments],
        capture_output=True,
        text=True,
        check=True,
    )


@pytest.fixture
def small() -> Iterator[Server]:
    limits = {"max_request_line": 256, "max_header_size": 256, "max_body_size": 64 * 1024}
    with serve_in_thread(server_with(**limits)) as server:
        yield server


@needs_curl
def test_curl_long_target_is_414_and_big_header_431(small: Server) -> None:
    code = ["-o", "/dev/null", "-w", "%{http_code}"]
    assert curl(*code, f"{small.url}{'a' * 300}").stdout == "414"
    assert curl(*code, "-H", f"X-Big: {'b' * 300}", str(small.url)).stdout == "431"
    assert curl(*code, str(small.url)).stdout == "200"


@needs_curl
def test_curl_body_over_the_limit_is_413_before_it_is_sent(small: Server, tmp_path: Path) -> None:
    upload = tmp_path / "big.bin"
    upload.write_bytes(b"x" * 200_000)
    result = curl(
        "-v", "-o", "/dev/null", "-w", "%{http_code}",
        "-H", "Expect: 100-continue", "--data-binary", f"@{upload}", f"{small.url}echo",
    )  # fmt: skip
    assert result.stdout == "413"
    assert "100 Continue" not in result.stderr  # refused from Content-Length alone


@needs_curl
def test_curl_chunked_body_over_the_limit_is_413(small: Server, tmp_path: Path) -> None:
    upload = tmp_path / "big.bin"
    upload.write_bytes(b"x" * 200_000)
    result = curl(
        "-o", "/dev/null", "-w", "%{http_code}",
        "-H", "Transfer-Encoding: chunked", "--data-binary", f"@{upload}", f"{small.url}echo",
    )  # fmt: skip
    assert result.stdout == "413"
    fits = tmp_path / "fits.bin"
    fits.write_bytes(b"x" * 60_000)
    result = curl(
        "-H", "Transfer-Encoding: chunked", "--data-binary", f"@{fits}", f"{small.url}echo"
    )
    assert result.stdout == '{"size":60000}'


def test_slowloris_gets_408_and_others_are_served_meanwhile() -> None:
    with serve_in_thread(server_with(header_timeout=1.0)) as server:
        slow = connect(server)
        started = time.monotonic()
        served = 0
        request = b"GET / HTTP/1.1\r\nHost: x\r\nX-Padding: " + b"p" * 40 + b"\r\n\r\n"
        try:
            for byte in request:  # one byte every 0.2 s: it would take over 12 s
                if select.select([slow], [], [], 0)[0]:
                    break  # the answer came (the server lingers: sending still works)
                slow.sendall(bytes([byte]))
                assert hello(server) == b"hello"
                served += 1
                time.sleep(0.2)
        except OSError:
            pass  # the server closed the connection (a reset while sending)
        data = read_all(slow)
        slow.close()
    elapsed = time.monotonic() - started
    assert data.startswith(b"HTTP/1.1 408 ")
    assert 0.9 < elapsed < 3.0
    assert served >= 4


def test_keep_alive_idle_connection_is_closed() -> None:
    with serve_in_thread(server_with(keep_alive_timeout=0.3)) as server:
        sock = connect(server)
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        started = time.monotonic()
        data = read_all(sock)  # the response, then the close once idle
        sock.close()
    [response] = parse_responses(data)
    assert (response.status, response.body) == (200, b"hello")
    assert 0.25 < time.monotonic() - started < 2.0


def test_connections_over_the_limit_get_503() -> None:
    # Both slots hold a head in the making, spared for shed_after (see test_fair_slots.py:
    # idle connections would make room instead).
    with serve_in_thread(server_with(max_connections=2, shed_after=60)) as server:
        first, second = connect(server), connect(server)
        for sock in (first, second):
            sock.sendall(b"GET / HTTP/1.1\r\n")
        third = connect(server)
        assert read_all(third).startswith(b"HTTP/1.1 503 ")
        third.close()
        first.close()
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:  # the slot frees once the close is seen
            try:
                if hello(server) == b"hello":
                    break
            except (ConnectionError, http.client.HTTPException):
                time.sleep(0.05)
        else:
            raise AssertionError("no connection was served after one closed")
        second.close()


def test_a_client_that_does_not_read_holds_nobody_up() -> None:
    with serve_in_thread(server_with()) as server:
        greedy = connect(server)
        greedy.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        greedy.sendall(b"GET /big HTTP/1.1\r\nHost: x\r\n\r\n")
        time.sleep(0.2)  # the server fills the socket buffers and waits
        started = time.monotonic()
        results: list[bytes] = []
        threads = [
            threading.Thread(target=lambda: results.append(hello(server))) for _ in range(5)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(5)
        assert results == [b"hello"] * 5
        assert time.monotonic() - started < 2.0
        greedy.close()


def test_a_client_still_sending_a_refused_body_reads_the_refusal() -> None:
    # The 413 goes out while the body is still arriving: closing with that input
    # unread would reset the connection, and a reset can destroy a reply not yet
    # read or sent (the server lingers instead, reading and discarding until the
    # client is done: the client sees the reply, then a clean end, never a reset).
    with serve_in_thread(server_with(max_body_size=1024)) as server:
        for _ in range(5):
            with connect(server) as sock:
                sock.sendall(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 4000000\r\n\r\n")
                sending = threading.Thread(target=_keep_sending, args=(sock, 4_000_000))
                sending.start()
                reply = read_all(sock)  # a reset would raise here
                sending.join(10)
                assert reply.startswith(b"HTTP/1.1 413"), reply


def _keep_sending(sock: socket.socket, size: int) -> None:
    chunk = b"y" * 65536
    try:
        for _ in range(size // len(chunk)):
            sock.sendall(chunk)
        sock.shutdown(socket.SHUT_WR)
    except OSError:
        pass  # the server gave up on us: the test looks at the reply
