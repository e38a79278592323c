"""``Response.bytes_sent`` and ``Request.received_at``, seen from ``response`` handlers."""

from __future__ import annotations

import asyncio
import http.client
import threading
from typing import Any

import pytest

from relays import Component, handler
from relays_http import NotFound, Request, Response, Server
from relays_http.testing import serve_in_thread

pytestmark = pytest.mark.integration


class App(Component):
    channel = "web"

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[tuple[int | None, float]] = []
        self.done = threading.Semaphore(0)

    async def request(self, request: Request, response: Response) -> Any:
        if request.path == "/whole":
            return "héllo"
        if request.path == "/stream":
            return iter([b"ab", "cé", bytearray(b"d"), memoryview(b"ef")])
        if request.path == "/empty":
            return Response(status=204)
        raise NotFound()

    @handler("response")
    def _on_response(self, request: Request, response: Response) -> None:
        assert request.received_at is not None
        elapsed = asyncio.get_running_loop().time() - request.received_at
        self.seen.append((response.bytes_sent, elapsed))
        self.done.release()


def test_bytes_sent_and_received_at() -> None:
    app = App()
    with serve_in_thread(Server("tcp://127.0.0.1:0") + app) as server:
        connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
        sizes = []
        for method, target in [("GET", "/whole"), ("GET", "/stream"), ("HEAD", "/whole")]:
            connection.request(method, target)
            sizes.append(len(connection.getresponse().read()))
        for target in ("/empty", "/missing"):
            connection.request("GET", target)
            sizes.append(len(connection.getresponse().read()))
        connection.close()
        for _ in range(5):
            assert app.done.acquire(timeout=5)
    assert [sent for sent, _ in app.seen] == sizes
    assert sizes[:4] == [6, 8, 0, 0]
    assert sizes[4] > 0  # the 404 page
    assert all(0 <= elapsed < 5 for _, elapsed in app.seen)


def test_a_request_made_by_hand_has_no_arrival_time() -> None:
    assert Request("GET", "/").received_at is None
    assert Response().bytes_sent is None
