"""ReverseProxyResource against real upstreams (a relays server, raw sockets, Twisted),
asked with curl and raw sockets; and side by side with Twisted's own
ReverseProxyResource."""

from __future__ import annotations

import asyncio
import hashlib
import pathlib
import shutil
import socket
import subprocess
import sys
import threading
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from relays_http import Controller, Server
from relays_http.testing import serve_in_thread
from relays_resources import Resource, ReverseProxyResource, Site

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed"),
]

HERE = pathlib.Path(__file__).parent
BIG = 8 * 1024 * 1024


class Upstream(Controller):
    """What the proxied requests reach: it says what it received."""

    def index(self, *args: str, **fields: str) -> Any:
        request = self.request
        if args[-1:] == ("big",):
            block = bytes(range(256)) * 256
            return iter([block] * (BIG // len(block)))
        if args[-1:] == ("upload",):
            return f"{len(request.content)} {hashlib.sha256(request.content).hexdigest()}"
        self.response.headers["X-Upstream"] = "yes"
        seen = ";".join(
            f"{name.lower()}={request.headers.get(name)}"
            for name in ("Host", "X-Forwarded-For", "X-Secret", "Keep-Alive", "TE", "X-Keep")
        )
        return f"{request.method} {request.target} {seen}"


def port_of(url: str) -> int:
    return int(url.rstrip("/").rpartition(":")[2])


@contextmanager
def proxy_to(port: int, path: bytes = b"/base", **options: Any) -> Iterator[Server]:
    root = Resource()
    root.putChild(b"proxy", ReverseProxyResource("127.0.0.1", port, path, **options))
    server = Server("tcp://127.0.0.1:0") + Site(root)
    with serve_in_thread(server):
        yield server


@pytest.fixture(scope="module")
def upstream() -> Iterator[int]:
    with serve_in_thread(Server("tcp://127.0.0.1:0") + Upstream()) as server:
        yield port_of(server.url)


def curl(*arguments: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        ["curl", "-sS", "--max-time", "20", *arguments], capture_output=True, check=True
    )


def test_method_path_query_and_headers_are_forwarded(upstream: int) -> None:
    with proxy_to(upstream) as front:
        done = curl(
            "-i",
            "-X",
            "PATCH",
            "-H",
            "Connection: X-Secret",
            "-H",
            "X-Secret: 1",
            "-H",
            "Keep-Alive: timeout=5",
            "-H",
            "TE: trailers",
            "-H",
            "X-Keep: kept",
            "-H",
            "X-Forwarded-For: 10.1.2.3",
            front.url + "proxy/a/b%20c?x=1&y=2",
        )
    head, _, body = done.stdout.decode().partition("\r\n\r\n")
    assert body == (
        f"PATCH /base/a/b%20c?x=1&y=2 host=127.0.0.1:{upstream};"
        "x-forwarded-for=10.1.2.3, 127.0.0.1;x-secret=None;keep-alive=None;te=None;x-keep=kept"
    )
    lines = head.lower().split("\r\n")
    assert "x-upstream: yes" in lines
    assert sum(line.startswith("server:") for line in lines) == 1


def test_an_upload_streams_to_the_upstream(upstream: int, tmp_path: pathlib.Path) -> None:
    data = bytes(range(256)) * (BIG // 256 // 2)
    file = tmp_path / "upload"
    file.write_bytes(data)
    expected = f"{len(data)} {hashlib.sha256(data).hexdigest()}".encode()
    with proxy_to(upstream) as front:
        octets = ("-H", "Content-Type: application/octet-stream", "--data-binary", f"@{file}")
        buffered = curl(*octets, front.url + "proxy/upload")
        assert buffered.stdout == expected
        front.http.stream_bodies("/proxy")
        streamed = curl("-H", "Transfer-Encoding: chunked", *octets, front.url + "proxy/upload")
        assert streamed.stdout == expected


def test_a_large_answer_streams_back(upstream: int) -> None:
    block = bytes(range(256)) * 256
    with proxy_to(upstream) as front:
        done = curl(front.url + "proxy/big")
    assert len(done.stdout) == BIG
    assert (
        hashlib.sha256(done.stdout).digest()
        == hashlib.sha256(block * (BIG // len(block))).digest()
    )


@contextmanager
def raw_upstream(
    serve: Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]],
) -> Iterator[int]:
    """A hand-written upstream on its own loop and thread; stopped (every connection
    closed) on the way out."""
    loop = asyncio.new_event_loop()
    listening: asyncio.Future[int] = loop.create_future()
    stop = asyncio.Event()
    handlers: set[asyncio.Task[None]] = set()

    async def connection(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        handlers.add(task)
        try:
            await serve(reader, writer)
        except (asyncio.CancelledError, ConnectionError):
            pass
        finally:
            writer.close()

    async def main() -> None:
        server = await asyncio.start_server(connection, "127.0.0.1", 0)
        listening.set_result(server.sockets[0].getsockname()[1])
        await stop.wait()
        server.close()
        for task in handlers:
            task.cancel()
        await asyncio.gather(*handlers, return_exceptions=True)
        await server.wait_closed()

    thread = threading.Thread(target=loop.run_until_complete, args=(main(),))
    thread.start()
    ready = threading.Event()
    loop.call_soon_threadsafe(lambda: listening.add_done_callback(lambda _: ready.set()))
    assert ready.wait(10)
    try:
        yield listening.result()
    finally:
        loop.call_soon_threadsafe(stop.set)
        thread.join(10)
        loop.close()


async def read_head(reader: asyncio.StreamReader) -> bytes:
    return await reader.readuntil(b"\r\n\r\n")


def test_an_unreachable_upstream_is_a_502() -> None:
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]  # bound, never listening: refused
        with proxy_to(port) as front:
            done = curl("-i", front.url + "proxy/x")
    text = done.stdout.decode()
    assert text.startswith("HTTP/1.1 502 ")
    assert f"http://127.0.0.1:{port}/base/x" in text


def test_the_upstreams_hop_by_hop_fields_stay_behind() -> None:
    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_head(reader)
        writer.write(
            b"HTTP/1.1 201 Made\r\nConnection: keep-alive, X-Hop\r\nX-Hop: 1\r\n"
            b"Keep-Alive: timeout=5\r\nX-Kept: 2\r\nContent-Length: 2\r\n\r\nok"
        )
        await writer.drain()
        await reader.read()

    with raw_upstream(answer) as port, proxy_to(port) as front:
        done = curl("-i", front.url + "proxy/x")
    head, _, body = done.stdout.decode().partition("\r\n\r\n")
    lines = head.lower().split("\r\n")
    assert lines[0] == "http/1.1 201 made"
    assert "x-kept: 2" in lines
    assert not [line for line in lines if line.startswith(("x-hop", "keep-alive"))]
    assert body == "ok"


def test_a_garbage_answer_is_a_502() -> None:
    async def garbage(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_head(reader)
        writer.write(b"this is not HTTP\r\n\r\n")
        await writer.drain()
        writer.close()

    with raw_upstream(garbage) as port, proxy_to(port) as front:
        done = curl("-i", front.url + "proxy/x")
    assert done.stdout.startswith(b"HTTP/1.1 502 ")


def test_a_silent_upstream_is_a_504_after_the_timeout() -> None:
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_head(reader)
        await reader.read()  # until the proxy gives up and closes

    with raw_upstream(silent) as port, proxy_to(port, timeout=0.2) as front:
        done = curl("-i", front.url + "proxy/x")
    assert done.stdout.startswith(b"HTTP/1.1 504 ")
    assert b"timed out" in done.stdout


def test_an_upstream_cut_short_cuts_the_client() -> None:
    """Once the head has gone, a failure cannot be a 502: the client's connection is
    cut, so curl sees a short body rather than a whole one."""

    async def cut(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_head(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\nonly this")
        await writer.drain()

    with raw_upstream(cut) as port, proxy_to(port) as front:
        done = subprocess.run(
            ["curl", "-sS", "--max-time", "20", front.url + "proxy/x"], capture_output=True
        )
    assert done.returncode == 18  # CURLE_PARTIAL_FILE
    assert done.stdout == b"only this"


def test_a_slow_client_holds_the_upstream_back() -> None:
    """The upstream offers 64 MiB; a client that reads nothing holds it back within
    the socket buffers between them, and then gets every byte when it reads."""
    total = 64 * 1024 * 1024
    chunk = b"x" * (64 * 1024)
    written = 0
    blocked = threading.Event()

    async def endless(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal written
        await read_head(reader)
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: %d\r\n\r\n" % total)
        while written < total:
            writer.write(chunk)
            written += len(chunk)
            if writer.transport.get_write_buffer_size() > 0:
                blocked.set()  # the proxy does not take more: TCP holds us back
            await writer.drain()
        writer.close()

    with (
        raw_upstream(endless) as port,
        proxy_to(port) as front,
        socket.create_connection(("127.0.0.1", port_of(front.url))) as client,
    ):
        client.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
        client.sendall(b"GET /proxy/big HTTP/1.1\r\nHost: test\r\n\r\n")
        assert blocked.wait(20)
        # Held back means it stops: two looks a moment apart see the same count (a
        # proxy buffering without bound would let it run on to the whole 64 MiB).
        before = -1
        for _ in range(100):
            if written == before:
                break
            before = written
            threading.Event().wait(0.2)
        assert written == before
        assert written < total // 2
        received = 0
        while received < total:
            data = client.recv(1024 * 1024)
            assert data, "the proxy closed before the whole body"
            received += len(data)
    assert received >= total


@pytest.fixture(scope="module")
def twisted_upstream() -> Iterator[int]:
    """The side-by-side tree, served by Twisted."""
    pytest.importorskip("twisted", reason="twisted is not installed (dev dependency)")
    with twisted_process("twisted") as port:
        yield port


@contextmanager
def twisted_process(*arguments: str) -> Iterator[int]:
    process = subprocess.Popen(
        [sys.executable, str(HERE / "side_by_side_tree.py"), *arguments],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        yield int(process.stdout.readline())
    finally:
        process.terminate()
        process.wait(10)
        assert process.stdout is not None
        process.stdout.close()


KEY_HEADERS = ("content-type", "content-length", "location", "allow", "x-reason", "x-upstream")
SIDE_BY_SIDE = [
    ("/proxy/hello/a/b",),
    ("/proxy/form?b=2&a=1&a=3",),
    ("/proxy/form", "-d", "name=fred"),
    ("/proxy/code",),
    ("/proxy/slow",),
    ("/proxy/numbers/42",),
    ("/proxy/nothing",),
    ("/proxy/code", "-X", "POST"),
]


def ask(url: str, *options: str) -> tuple[int, dict[str, str], bytes]:
    head, _, body = curl("-i", *options, url).stdout.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        if name.lower() in KEY_HEADERS:
            headers[name.lower()] = value.strip()
    return int(lines[0].split()[1]), headers, body


@pytest.fixture(scope="module")
def both_proxies(twisted_upstream: int) -> Iterator[tuple[str, str]]:
    """Twisted's ReverseProxyResource and ours, in front of the same (Twisted) tree."""
    with (
        twisted_process("proxy", str(twisted_upstream)) as theirs,
        proxy_to(twisted_upstream, b"") as front,
    ):
        yield f"http://127.0.0.1:{theirs}", front.url.rstrip("/")


@pytest.mark.parametrize("request_", SIDE_BY_SIDE, ids=lambda each: " ".join(each))
def test_same_answers_as_twisteds_proxy(
    both_proxies: tuple[str, str], request_: tuple[str, ...]
) -> None:
    path, *options = request_
    theirs, ours = (ask(url + path, *options) for url in both_proxies)
    assert ours == theirs
