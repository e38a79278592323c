"""Minimum data rates: a client that sends its body, or reads its answer, too slowly.

A deadline between two reads cannot stop a client that sends one byte every few
seconds, nor one that reads that slowly; the minimum rates (Kestrel's
``MinRequestBodyDataRate`` and ``MinResponseDataRate``) do, once their grace period
has passed. On real sockets, each test with its own server and small limits.
"""

from __future__ import annotations

import asyncio
import contextlib
import http.client
import select
import socket
import threading
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from relays import Component, handler
from relays.transports import Connection
from relays_http import FileRegion, HTTPError, Limits, Request, Response, Server
from relays_http._body import BodyStream
from relays_http.testing import Client, memory_server, parse_responses, serve_in_thread

pytestmark = pytest.mark.integration

#: Pacing of the slow clients below (they are slow on purpose); never a margin waited on.
TRICKLE_INTERVAL = 0.05


class App(Component):
    channel = "web"

    def __init__(self, file: Path | None = None) -> None:
        super().__init__()
        #: What /file sends, with sendfile.
        self.file = file
        #: Set when a connection that asked for /big or /file is gone.
        self.big_gone = threading.Event()
        self._big: set[Connection] = set()
        #: What the loop of a streaming handler raised (set with ``stream_failed``).
        self.stream_error: BaseException | None = None
        self.stream_failed = threading.Event()

    async def request(self, request: Request, response: Response) -> Any:
        if request.path == "/big":
            self._big.add(request.sock)
            return (b"x" * 65536 for _ in range(256))  # 16 MiB, streamed
        if request.path == "/file" and self.file is not None:
            self._big.add(request.sock)
            return self._regions(self.file)
        if request.path == "/echo":
            return {"size": len(await request.read())}
        if request.path == "/stream":  # streamed to this handler (see serve)
            size = 0
            try:
                async for chunk in request.stream():
                    size += len(chunk)
            except HTTPError as error:
                self.stream_error = error
                self.stream_failed.set()
                raise
            return {"size": size}
        return "hello"

    @staticmethod
    def _regions(path: Path) -> Iterator[FileRegion]:
        with path.open("rb") as file:  # a static file, as relays-static sends it
            yield FileRegion(file, 0, path.stat().st_size)

    @handler("disconnect")
    def _gone(self, sock: Connection) -> None:
        if sock in self._big:
            self.big_gone.set()


def serve(app: App | None = None, **limits: Any) -> Any:
    server = Server("tcp://127.0.0.1:0", limits=Limits(**limits))
    server.http.stream_bodies("/stream")
    return serve_in_thread(server + (app or App()))


def connect(server: Server) -> socket.socket:
    assert server.port is not None
    return socket.create_connection(("127.0.0.1", server.port), timeout=10)


def hello(server: Server) -> bytes:
    client = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
    try:
        client.request("GET", "/")
        return client.getresponse().read()
    finally:
        client.close()


def read_all(sock: socket.socket) -> bytes:
    chunks = []
    try:
        while chunk := sock.recv(1024 * 1024):
            chunks.append(chunk)
    except ConnectionResetError:
        pass
    return b"".join(chunks)


def trickle_body(
    server: Server, size: int, most: int, path: bytes = b"/echo"
) -> tuple[bytes, int]:
    """POST *path* with a *size* byte body sent one byte per interval, at most *most* bytes
    or until the server answers; returns what the server sent and how many body bytes
    went. Others are served meanwhile (checked between two bytes)."""
    sent = 0
    with connect(server) as sock:
        sock.sendall(
            b"POST %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: %d\r\n\r\n"
            % (path, size)
        )
        try:
            while sent < most:
                if select.select([sock], [], [], TRICKLE_INTERVAL)[0]:
                    break  # the answer came
                sock.sendall(b"y")
                sent += 1
                if sent % 5 == 0:
                    assert hello(server) == b"hello"
        except OSError:
            pass  # the server closed while we sent: its answer is read below
        return read_all(sock), sent


def test_a_body_below_the_minimum_rate_gets_408_after_the_grace_period() -> None:
    # 1 byte per 50 ms is 20 B/s: under 100 B/s once the 0.5 s grace is over. The body
    # would take 100 s; the client gives up after 400 bytes (20 s) if nothing came.
    limits = {"min_request_body_rate": 100, "data_rate_grace_period": 0.5}
    with serve(**limits) as server:
        data, sent = trickle_body(server, 2000, 400)
    [response] = parse_responses(data)
    assert response.status == 408
    assert b"too slowly" in response.body
    assert sent < 400


def test_a_body_trickled_to_a_streaming_handler_gets_408_and_the_handler_learns_it() -> None:
    # The handler waits on the body all along: 20 B/s is under 100 B/s once it has
    # waited 0.5 s. The client gives up after 400 bytes (20 s) if nothing came.
    app = App()
    with serve(app, min_request_body_rate=100, data_rate_grace_period=0.5) as server:
        data, sent = trickle_body(server, 2000, 400, b"/stream")
        assert app.stream_failed.wait(10), "the handler's loop never raised"
    [response] = parse_responses(data)
    assert response.status == 408
    assert b"too slowly" in response.body
    assert sent < 400
    assert isinstance(app.stream_error, HTTPError)
    assert app.stream_error.code == 408


def test_a_minimum_body_rate_of_0_is_off() -> None:
    # The same trickle, 20 bytes over about a second, past a 0.2 s grace period: with the
    # rate off only body_timeout (between two reads) applies, and the body arrives.
    limits = {"min_request_body_rate": 0, "data_rate_grace_period": 0.2}
    with serve(**limits) as server:
        data, sent = trickle_body(server, 20, 20)
    [response] = parse_responses(data)
    assert (response.status, response.body, sent) == (200, b'{"size":20}', 20)


def test_a_client_reading_below_the_minimum_rate_is_dropped() -> None:
    limits = {"min_response_rate": 100_000, "data_rate_grace_period": 0.5}
    app_server = Server("tcp://127.0.0.1:0", limits=Limits(**limits))
    app = App()
    with serve_in_thread(app_server + app) as server, connect(server) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.sendall(b"GET /big HTTP/1.1\r\nHost: x\r\n\r\n")
        # It reads nothing: the server's output waits, its rate is 0, and after the
        # grace period the connection is dropped.
        assert app.big_gone.wait(20), "the slow reader was never dropped"
        assert hello(server) == b"hello"
        data = read_all(sock)
    assert data.startswith(b"HTTP/1.1 200 ")
    assert len(data) < 16 * 1024 * 1024  # cut short


def test_a_client_reading_fast_enough_gets_the_whole_answer() -> None:
    # A reader that keeps reading is far above 1 KB/s; the grace period is generous, as
    # the reader shares the interpreter (and a loaded machine) with the server.
    limits = {"min_response_rate": 1000, "data_rate_grace_period": 3}
    with serve(**limits) as server, connect(server) as sock:
        sock.sendall(b"GET /big HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        data = read_all(sock)
    [response] = parse_responses(data)
    assert (response.status, len(response.body)) == (200, 16 * 1024 * 1024)


#: The size of the static file sent with sendfile: more than the system buffers for a
#: client that reads slowly.
FILE_SIZE = 16 * 1024 * 1024


@pytest.fixture(params=["own", "asyncio"])
def static_file(request: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A file of FILE_SIZE bytes; the servers of the test run on relays-sockets' own
    transport or on asyncio's (on uvloop, its own)."""
    monkeypatch.setenv("RELAYS_FAST_TRANSPORT", "1" if request.param == "own" else "0")
    path = tmp_path / "static.bin"
    path.write_bytes(bytes(range(256)) * (FILE_SIZE // 256))
    return path


def test_a_client_reading_a_file_below_the_minimum_rate_is_dropped(static_file: Path) -> None:
    # The file goes by sendfile, past the transport: its progress is measured all the
    # same. The client reads one byte per interval (20 B/s), under 1000 B/s.
    limits = Limits(min_response_rate=1000, data_rate_grace_period=0.5)
    app = App(static_file)
    server = Server("tcp://127.0.0.1:0", limits=limits)
    with serve_in_thread(server + app), connect(server) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.sendall(b"GET /file HTTP/1.1\r\nHost: x\r\n\r\n")
        received = b""
        for _ in range(400):  # 20 s at most
            if app.big_gone.wait(TRICKLE_INTERVAL):
                break
            try:
                received += sock.recv(1)
            except ConnectionResetError:
                break
        assert app.big_gone.wait(10), "the slow reader was never dropped"
        assert hello(server) == b"hello"
        received += read_all(sock)
    assert received.startswith(b"HTTP/1.1 200 ")
    assert len(received) < FILE_SIZE  # cut short


def test_a_client_reading_a_file_fast_enough_gets_all_of_it(static_file: Path) -> None:
    limits = Limits(min_response_rate=1000, data_rate_grace_period=3)
    app = App(static_file)
    server = Server("tcp://127.0.0.1:0", limits=limits)
    with serve_in_thread(server + app), connect(server) as sock:
        sock.sendall(b"GET /file HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        data = read_all(sock)
    [response] = parse_responses(data)
    assert (response.status, response.body) == (200, static_file.read_bytes())


@pytest.mark.parametrize("value", [-1, "fast", True])
def test_a_rate_must_be_0_or_positive(value: Any) -> None:
    with pytest.raises(ValueError, match="min_request_body_rate must be 0 \\(off\\)"):
        Limits(min_request_body_rate=value)


def test_the_rates_are_on_by_default() -> None:
    limits = Limits()
    assert (limits.min_request_body_rate, limits.min_response_rate) == (240, 240)
    assert limits.data_rate_grace_period == 5


@pytest.fixture(autouse=True)
def _bounded() -> Iterator[None]:
    """These tests pace slow clients: none may hang the run."""
    socket.setdefaulttimeout(30)
    try:
        yield
    finally:
        socket.setdefaulttimeout(None)


class Uploads(Component):
    """Streams ``/upload`` (records each chunk, and the error its loop raised); answers
    anything else with ``pong``."""

    channel = "web"

    def __init__(self) -> None:
        super().__init__()
        self.called = asyncio.Event()
        self.go = asyncio.Event()  # the handler starts reading once it is set
        self.reading = asyncio.Event()  # set as it starts its loop
        self.chunk = asyncio.Event()  # set (and cleared by the test) per chunk
        self.received = 0
        self.error: BaseException | None = None
        self.failed = asyncio.Event()  # set with error

    async def request(self, request: Request, response: Response) -> str:
        if request.path != "/upload":
            return "pong"
        self.called.set()
        await self.go.wait()
        self.reading.set()
        try:
            async for chunk in request.stream():
                self.received += len(chunk)
                self.chunk.set()
        except HTTPError as error:
            self.error = error
            self.failed.set()
            raise
        return f"got {self.received}"


class FakeClock:
    """The server's clock, moved by the test only."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


# Every deadline far off: only the rate can cut a client here.
FAR = {"body_timeout": 10_000, "header_timeout": 10_000, "keep_alive_timeout": 10_000}


@contextlib.asynccontextmanager
async def streaming_client(
    app: Uploads, **limits: Any
) -> AsyncIterator[tuple[Client, FakeClock, Any]]:
    """A server streaming ``/upload`` to *app*, a client connected to it, the fake clock
    its deadlines and body streams read from then on, and its sweep."""
    server, transport = memory_server(app, limits=Limits(**{**FAR, **limits}))
    server.http.stream_bodies("/upload")
    async with server:
        client = Client(transport)
        # Once a request is answered the connection is in the sweep's care (whose clock
        # is taken then): the fake clock replaces it from here on.
        assert (await client.get("/ping")).text == "pong"
        deadlines = server.http._deadlines
        clock = FakeClock(deadlines.now())
        deadlines.now = clock
        yield client, clock, deadlines.sweep


def upload_head(length: int) -> bytes:
    return b"POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % length


async def send_chunk(client: Client, app: Uploads, data: bytes) -> None:
    """Send *data* and wait until the handler took it (it is then waiting again)."""
    app.chunk.clear()
    client.send(data)
    await app.chunk.wait()


async def test_a_streamed_body_is_measured_while_its_handler_waits_for_it() -> None:
    app = Uploads()
    app.go.set()
    async with streaming_client(app, min_request_body_rate=100, data_rate_grace_period=5) as (
        client,
        clock,
        sweep,
    ):
        client.send(upload_head(10_000))
        await app.reading.wait()  # the handler waits on the empty stream from here
        clock.now += 4
        sweep()  # 4 s waited: within the grace period
        await send_chunk(client, app, b"x" * 100)
        clock.now += 2
        sweep()  # 6 s waited for 100 bytes: under 100 B/s
        [response] = parse_responses(await client.wait_closed())
        assert response.status == 408
        assert b"too slowly" in response.body
        await app.failed.wait()
        assert isinstance(app.error, HTTPError)
        assert app.error.code == 408


async def test_a_handler_busy_elsewhere_does_not_get_its_client_cut() -> None:
    # The client sent part of the body at once; the handler did not read for 100 s. It
    # never waited on the body meanwhile: that time is not held against the client.
    app = Uploads()
    async with streaming_client(app, min_request_body_rate=100, data_rate_grace_period=0.5) as (
        client,
        clock,
        sweep,
    ):
        client.send(upload_head(2000) + b"x" * 1000)
        await app.called.wait()  # the bytes that came with the head are in the stream
        clock.now += 100
        sweep()
        app.go.set()
        await app.chunk.wait()
        clock.now += 1  # 1 s of waiting for the rest, 1000 bytes so far: fine
        sweep()
        await send_chunk(client, app, b"y" * 1000)
        response = await client.response()
        assert (response.status, response.text, app.error) == (200, "got 2000", None)


async def test_a_client_keeping_the_rate_while_its_handler_waits_is_not_cut() -> None:
    app = Uploads()
    app.go.set()
    async with streaming_client(app, min_request_body_rate=100, data_rate_grace_period=5) as (
        client,
        clock,
        sweep,
    ):
        client.send(upload_head(3000))
        await app.reading.wait()
        for _ in range(15):  # 200 bytes per (fake) second: twice the rate
            clock.now += 1
            sweep()
            await send_chunk(client, app, b"z" * 200)
        response = await client.response()
        assert (response.status, response.text) == (200, "got 3000")


async def test_a_minimum_body_rate_of_0_leaves_streamed_bodies_alone() -> None:
    app = Uploads()
    app.go.set()
    async with streaming_client(app, min_request_body_rate=0, data_rate_grace_period=5) as (
        client,
        clock,
        sweep,
    ):
        client.send(upload_head(2))
        await app.reading.wait()
        clock.now += 1000
        sweep()
        await send_chunk(client, app, b"ab")
        assert (await client.response()).text == "got 2"


class Source:
    """A stand-in for the connection that fills a stream."""

    def body_wanted(self) -> None:
        pass

    def body_drained(self) -> None:
        pass


def resume(step: Any) -> bytes:
    """Run a reader's step on from where it waited: the chunk it then yields."""
    with pytest.raises(StopIteration) as stop:
        step.send(None)
    chunk: bytes = stop.value.value
    return chunk


async def test_a_stream_times_only_its_readers_waits() -> None:
    # Each step of the reader is driven by hand: it runs until it waits on the buffer.
    clock = FakeClock(100.0)
    stream = BodyStream(Source(), 1024, clock)
    chunks = stream.take()
    stream.feed(b"early")  # before the reader asks: no wait
    clock.now += 50
    assert resume(anext(chunks)) == b"early"
    assert stream.reader_waited(clock.now) == 0
    step = anext(chunks)
    step.send(None)  # the reader waits on the empty buffer
    clock.now += 3
    assert stream.reader_waited(clock.now) == 3  # a wait going on counts up to now
    stream.feed(b"late")
    clock.now += 7  # the reader was woken: no longer waiting
    assert resume(step) == b"late"
    assert stream.reader_waited(clock.now) == 3
    step = anext(chunks)
    step.send(None)
    clock.now += 2
    with pytest.raises(asyncio.CancelledError):  # a reader that gives up (a timeout)
        step.throw(asyncio.CancelledError())
    clock.now += 40
    assert stream.reader_waited(clock.now) == 5


async def test_a_stream_without_a_clock_times_nothing() -> None:
    stream = BodyStream(Source(), 1024)
    step = anext(stream.take())
    step.send(None)
    stream.feed(b"data")
    assert resume(step) == b"data"
    assert stream.reader_waited(1e9) == 0
