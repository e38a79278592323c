"""``response.flush()`` against a client that reads slowly: the servlet is held back,
memory stays bounded, and a client that leaves frees the servlet's thread."""

from __future__ import annotations

import pathlib
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from relays_http import Server
from relays_http.testing import serve_in_thread
from relays_servlets import DEFAULT_FLUSH_LIMIT, ServletResponse, Servlets

pytestmark = pytest.mark.integration

TOTAL = 50 * 1024 * 1024
CHUNK = 64 * 1024
BIG_SERVLET = f"""
from relays_servlets import Page

class Big(Page):
    def respondToGet(self, transaction):
        progress = transaction.application().progress
        response = transaction.response()
        response.setHeader("Content-Type", "application/octet-stream")
        block = b"x" * {CHUNK}
        try:
            while progress["flushed"] < {TOTAL}:
                response.write(block)
                response.flush()
                progress["flushed"] += len(block)
        finally:
            progress["ended"].set()
"""


def rss() -> int:
    """This process's resident memory, in bytes (Linux)."""
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * 4096


@contextmanager
def big_site(tmp_path: pathlib.Path) -> Iterator[tuple[int, dict[str, Any]]]:
    (tmp_path / "Big.py").write_text(BIG_SERVLET)
    servlets = Servlets({"/": tmp_path})
    progress: dict[str, Any] = {"flushed": 0, "ended": threading.Event()}
    servlets.progress = progress  # type: ignore[attr-defined]
    with serve_in_thread(Server("tcp://127.0.0.1:0") + servlets) as server:
        yield int(server.url.rstrip("/").rpartition(":")[2]), progress


def stalled(progress: dict[str, Any]) -> int:
    """The bytes flushed once the servlet stops getting further (two looks a moment
    apart see the same count); a servlet never held back runs on to the end."""
    before = -1
    for _ in range(100):
        if progress["flushed"] == before:
            return before
        before = progress["flushed"]
        threading.Event().wait(0.2)
    raise AssertionError("the servlet was never held back")


def test_a_slow_reader_holds_the_servlet_back_and_memory_stays_bounded(
    tmp_path: pathlib.Path,
) -> None:
    with big_site(tmp_path) as (port, progress):
        start = rss()
        with socket.create_connection(("127.0.0.1", port)) as client:
            client.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
            client.sendall(b"GET /Big HTTP/1.0\r\n\r\n")  # 1.0: the body ends at the close
            held_at = stalled(progress)
            assert held_at < 16 * 1024 * 1024  # socket buffers and the flush limit
            assert rss() - start < 32 * 1024 * 1024  # not the 50 MiB written
            assert not progress["ended"].is_set()
            received = b""
            while b"\r\n\r\n" not in received:
                received += client.recv(65536)
            size = len(received.partition(b"\r\n\r\n")[2])
            while True:
                data = client.recv(1024 * 1024)
                if not data:
                    break
                size += len(data)
        assert size == TOTAL
        assert progress["ended"].wait(10)


def test_a_client_that_leaves_frees_the_servlet(tmp_path: pathlib.Path) -> None:
    with big_site(tmp_path) as (port, progress):
        with socket.create_connection(("127.0.0.1", port)) as client:
            client.sendall(b"GET /Big HTTP/1.1\r\nHost: test\r\n\r\n")
            assert client.recv(65536).startswith(b"HTTP/1.1 200 ")
        # The next flush raises ClientDisconnected, and the servlet's thread is free.
        assert progress["ended"].wait(10)
        assert progress["flushed"] < TOTAL


def test_the_flush_limit_is_named_and_checked(tmp_path: pathlib.Path) -> None:
    assert DEFAULT_FLUSH_LIMIT == 256 * 1024
    assert Servlets({"/": tmp_path}, flush_limit=1024).flush_limit == 1024
    with pytest.raises(ValueError, match="flush_limit"):
        Servlets({"/": tmp_path}, flush_limit=-1)


def test_header_names_are_kept_in_lower_case() -> None:
    class NoLoop:
        def create_future(self) -> Any:
            return None

    response = ServletResponse(NoLoop())  # type: ignore[arg-type]
    response.setHeader("X-Custom-Thing", "1")
    assert response.headers == {"content-type": "text/html; charset=utf-8", "x-custom-thing": "1"}
    assert response.header("Content-Type") == "text/html; charset=utf-8"
