"""Real byte counts and durations in access lines: streams, error pages, lists, HEAD."""

from __future__ import annotations

import http.client
import json
import socket
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from relays import Component
from relays_http import Request, Response, Server
from relays_logging import AccessLog

pytestmark = pytest.mark.integration


class Bodies(Component):
    channel = "web"

    async def request(self, request: Request, response: Response) -> Any:
        path = request.path
        if path == "/list":
            return [1, "zoë"]
        if path == "/astream":

            async def chunks() -> AsyncIterator[str]:
                for part in ("é", "ab", ""):
                    yield part

            return chunks()
        if path == "/upload":
            return {"size": len(await request.read())}
        return None


def fetch(server: Server, method: str, target: str) -> tuple[int, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
    try:
        connection.request(method, target)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def test_sizes_are_the_body_bytes_sent(serve: Callable[..., Server], capture) -> None:
    log = capture("relays.access")
    server = serve(Bodies(), AccessLog(format="json"))
    cases = [("GET", "/list"), ("GET", "/astream"), ("GET", "/stream"), ("GET", "/nowhere")]
    cases += [("HEAD", "/text"), ("HEAD", "/stream"), ("GET", "/fail")]
    bodies = [fetch(server, method, target)[1] for method, target in cases]
    lines = [json.loads(line) for line in log.wait_for(len(cases))]
    assert [line["bytes"] for line in lines] == [len(body) for body in bodies]
    assert [line["bytes"] for line in lines][:2] == [len('[1,"zoë"]'.encode()), 4]
    assert [line["bytes"] for line in lines][4:6] == [0, 0]
    assert [line["status"] for line in lines] == [200, 200, 200, 404, 200, 200, 500]


def test_duration_includes_receiving_the_body(serve: Callable[..., Server], capture) -> None:
    log = capture("relays.access")
    server = serve(Bodies(), AccessLog(format="json"))
    before = time.time()
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
        sock.sendall(b"POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n")
        time.sleep(0.3)
        sock.sendall(b"\r\nab")
        time.sleep(0.1)
        sock.sendall(b"cd")
        assert sock.recv(4096).startswith(b"HTTP/1.1 200")
    (line,) = log.wait_for(1)
    fields = json.loads(line)
    # 0.4 s from the first byte of the head to the last of the body; counted from the end
    # of the head it would be 0.1 s. The margin is for a busy machine, where the server may
    # read the first bytes late (never early), which shortens what it measures.
    assert fields["duration_us"] >= 250_000
    assert fields["bytes"] == len(b'{"size":4}')
    logged = time.mktime(time.strptime(fields["time"][:19], "%Y-%m-%dT%H:%M:%S"))
    assert before - 1 <= logged <= before + 1  # when the head began, not when it was answered
