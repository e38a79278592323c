"""A client that goes away cancels the async handlers still answering it, unless shielded.

Real sockets: the client closes (FIN, as a browser tab or an interrupted curl does) or
resets (RST) while its request is being answered.
"""

from __future__ import annotations

import asyncio
import socket
import struct
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from relays import Component
from relays_http import Controller, Request, Response, Server, expose, shielded
from relays_http.testing import serve_in_thread

pytestmark = pytest.mark.integration

WAIT = 10.0  # seconds: only ever reached when the test fails


class Marks:
    """Thread-safe marks the server's handlers leave for the test."""

    def __init__(self) -> None:
        self._events: dict[str, threading.Event] = {}
        self._lock = threading.Lock()

    def _get(self, name: str) -> threading.Event:
        with self._lock:
            return self._events.setdefault(name, threading.Event())

    def set(self, name: str) -> None:
        self._get(name).set()

    def wait(self, name: str) -> bool:
        return self._get(name).wait(WAIT)

    def is_set(self, name: str) -> bool:
        return self._get(name).is_set()


class Slow(Component):
    channel = "web"

    def __init__(self, marks: Marks) -> None:
        super().__init__()
        self.marks = marks

    async def request(self, request: Request, response: Response) -> Any:
        if request.path != "/slow":
            return None
        self.marks.set("slow started")
        try:
            await asyncio.Event().wait()  # an upstream that never answers
        except asyncio.CancelledError:
            self.marks.set("slow cancelled")
            raise
        return "never"


class MustFinish(Component):
    channel = "web"

    def __init__(self, marks: Marks) -> None:
        super().__init__()
        self.marks = marks

    @shielded
    async def request(self, request: Request, response: Response) -> Any:
        if request.path != "/record":
            return None
        self.marks.set("record started")
        await request.disconnected.wait()  # the client is gone: the work goes on
        self.marks.set("record finished")
        return "recorded"


class Pages(Controller):
    def __init__(self, marks: Marks) -> None:
        super().__init__()
        self.marks = marks

    @expose("page")
    async def slow_page(self) -> str:
        self.marks.set("page started")
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            self.marks.set("page cancelled")
            raise
        return "never"

    @shielded
    @expose("kept")
    async def kept_page(self) -> str:
        self.marks.set("kept started")
        await self.request.disconnected.wait()
        self.marks.set("kept finished")
        return "kept"


@pytest.fixture
def served() -> Iterator[tuple[int, Marks]]:
    marks = Marks()
    server = Server("tcp://127.0.0.1:0") + Slow(marks) + MustFinish(marks) + Pages(marks)
    with serve_in_thread(server) as running:
        assert running.port is not None
        yield running.port, marks


def ask(port: int, path: str, *, version: str = "1.1") -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=WAIT)
    sock.sendall(f"GET {path} HTTP/{version}\r\nHost: test\r\n\r\n".encode())
    return sock


def reset(sock: socket.socket) -> None:
    """Close with a reset (RST) rather than a FIN."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


@pytest.mark.parametrize("close", [socket.socket.close, reset], ids=["fin", "rst"])
def test_an_async_handler_is_cancelled_when_its_client_goes(
    served: tuple[int, Marks], close: Any
) -> None:
    port, marks = served
    sock = ask(port, "/slow")
    assert marks.wait("slow started")
    close(sock)
    assert marks.wait("slow cancelled")


def test_a_shielded_handler_finishes_and_learns_the_client_went(
    served: tuple[int, Marks],
) -> None:
    port, marks = served
    sock = ask(port, "/record")
    assert marks.wait("record started")
    sock.close()
    assert marks.wait("record finished")


def test_an_async_page_is_cancelled_and_a_shielded_page_is_not(
    served: tuple[int, Marks],
) -> None:
    port, marks = served
    sock = ask(port, "/page")
    assert marks.wait("page started")
    sock.close()
    assert marks.wait("page cancelled")
    sock = ask(port, "/kept")
    assert marks.wait("kept started")
    reset(sock)
    assert marks.wait("kept finished")


# Half-closing clients (HTTP/1.0, or with pipelined requests) are still answered by
# async handlers: see test_connection_lifecycle.py.
