"""Streamed request bodies: fired at head time, read as they arrive, with backpressure.

A request that a stream rule takes (``HTTP.stream_bodies``, or a page exposed with
``stream=True``) reaches its handler as soon as its head is parsed; the handler
takes the body with ``async for chunk in request.stream()``, may refuse it unread
(a client waiting for ``100 Continue`` never gets it), and a handler that does not
read holds the client back.
"""

from __future__ import annotations

import asyncio
import itertools
import socket
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from relays import Component
from relays.testing import MemoryConnection
from relays_http import (
    BaseServer,
    BodyConsumed,
    ClientDisconnected,
    Controller,
    Dispatcher,
    HTTPError,
    Limits,
    PayloadTooLarge,
    Request,
    Response,
    Server,
    expose,
    shielded,
)
from relays_http.testing import Client, memory_server, parse_responses, serve_in_thread


class Uploads(Component):
    """Streams ``/upload``; records each chunk as it is taken; answers the total."""

    channel = "web"

    def __init__(self, *, read: bool = True) -> None:
        super().__init__()
        self.read = read
        self.chunks: list[bytes] = []
        self.first_chunk = asyncio.Event()
        self.go = asyncio.Event()  # the handler starts reading once it is set
        self.called = asyncio.Event()
        self.error: BaseException | None = None
        self.failed = asyncio.Event()
        self.streamed: list[bool] = []

    async def request(self, request: Request, response: Response) -> Any:
        self.streamed.append(request.streamed)
        self.called.set()
        if not self.read:
            return PayloadTooLarge(f"no uploads of {request.expected_length} bytes here")
        await self.go.wait()
        size = 0
        try:
            async for chunk in request.stream():
                self.chunks.append(chunk)
                size += len(chunk)
                self.first_chunk.set()
        except BaseException as error:
            self.error = error
            self.failed.set()
            raise
        return f"got {size}"


def streaming_server(app: Component, **options: Any) -> tuple[BaseServer, Any]:
    server, transport = memory_server(app, **options)
    server.http.stream_bodies("/upload")
    return server, transport


def head(length: int | None, *, path: str = "/upload", expect: bool = False) -> bytes:
    fields = b"Host: a\r\n"
    if length is None:
        fields += b"Transfer-Encoding: chunked\r\n"
    else:
        fields += b"Content-Length: %d\r\n" % length
    if expect:
        fields += b"Expect: 100-continue\r\n"
    return b"POST %s HTTP/1.1\r\n%s\r\n" % (path.encode(), fields)


async def test_the_handler_runs_at_head_time_and_takes_chunks_as_they_come() -> None:
    app = Uploads()
    app.go.set()
    server, transport = streaming_server(app)
    async with server:
        client = Client(transport)
        client.send(head(10))
        await app.called.wait()  # before any body byte was sent
        client.send(b"hello")
        await app.first_chunk.wait()
        assert app.chunks == [b"hello"]
        client.send(b"world")
        response = await client.response()
        assert response.status == 200
        assert response.text == "got 10"
        assert app.chunks == [b"hello", b"world"]
        # The connection is kept alive: the next request is served as usual (buffered).
        assert (await client.get("/other")).text == "got 0"
        assert app.streamed == [True, False]


async def test_other_paths_stay_buffered() -> None:
    class Echo(Component):
        channel = "web"

        async def request(self, request: Request, response: Response) -> bytes:
            assert not request.streamed
            return b"".join([chunk async for chunk in request.stream()]) + request.content

    server, transport = streaming_server(Echo())
    async with server:
        response = await Client(transport).post("/elsewhere", b"abc")
        assert response.body == b"abcabc"


async def test_a_refusal_before_reading_never_asks_for_the_body() -> None:
    app = Uploads(read=False)
    server, transport = streaming_server(app)
    async with server:
        client = Client(transport)
        client.send(head(10_000_000, expect=True))
        response = await client.response()
        assert response.status == 413
        assert b"10000000" in response.body
        assert response.headers.get("connection") == "close"
        assert client.interim == []  # no 100 Continue was sent
        await client.wait_closed()


async def test_100_continue_goes_out_when_the_handler_first_reads() -> None:
    app = Uploads()
    server, transport = streaming_server(app)
    async with server:
        client = Client(transport)
        client.send(head(3, expect=True))
        await app.called.wait()
        assert client.connection.received == b""  # nothing asked of the client yet
        app.go.set()
        await client.connection.wait(lambda data: b"100 Continue" in data)
        client.send(b"abc")
        response = await client.response()
        assert response.text == "got 3"
        assert [interim.status for interim in client.interim] == [100]


async def test_a_handler_that_does_not_read_stops_the_reading() -> None:
    app = Uploads()
    server, transport = streaming_server(app, limits=Limits(stream_read_ahead=8))
    async with server:
        client = Client(transport)
        connection = client.connection.connection
        assert isinstance(connection, MemoryConnection)
        client.send(head(None))
        await app.called.wait()
        await client.connection.send(b"5\r\nabcde\r\n")
        assert connection.reading
        await client.connection.send(b"5\r\nfghij\r\n")  # 10 bytes held: over the limit
        assert not connection.reading
        app.go.set()
        await app.first_chunk.wait()
        client.send(b"0\r\n\r\n")
        response = await client.response()
        assert response.text == "got 10"
        assert connection.reading


class ShieldedUploads(Uploads):
    @shielded
    async def request(self, request: Request, response: Response) -> Any:
        return await super().request(request, response)


async def test_a_client_that_goes_away_cancels_the_reader() -> None:
    app = Uploads()
    app.go.set()
    server, transport = streaming_server(app)
    async with server:
        client = Client(transport)
        client.send(head(100) + b"partial")
        await app.first_chunk.wait()
        client.close()
        await app.failed.wait()
        assert isinstance(app.error, asyncio.CancelledError)


async def test_a_shielded_reader_gets_client_disconnected_instead() -> None:
    app = ShieldedUploads()
    app.go.set()
    server, transport = streaming_server(app)
    async with server:
        client = Client(transport)
        client.send(head(100) + b"partial")
        await app.first_chunk.wait()
        client.close()
        await app.failed.wait()
        assert isinstance(app.error, ClientDisconnected)


async def test_a_body_over_the_limit_is_refused_and_the_reader_gets_the_error() -> None:
    app = Uploads()
    app.go.set()
    server, transport = streaming_server(app, limits=Limits(max_body_size=8))
    async with server:
        client = Client(transport)
        client.send(head(None) + b"5\r\nabcde\r\n")
        await app.first_chunk.wait()
        client.send(b"5\r\nfghij\r\n")
        response = await client.response()
        assert response.status == 413
        await client.wait_closed()
        await app.failed.wait()
        assert isinstance(app.error, HTTPError)
        assert app.error.code == 413


async def test_read_collects_a_streamed_body_and_the_buffered_api_waits_for_it() -> None:
    class Reader(Component):
        channel = "web"

        async def request(self, request: Request, response: Response) -> bytes:
            with pytest.raises(BodyConsumed):
                _ = request.content
            data = await request.read()
            assert not request.streamed
            assert request.content == data
            assert request.content_length == len(data)
            # Once read, the body is a buffered one: stream() yields it again.
            assert b"".join([chunk async for chunk in request.stream()]) == data
            return data

    server, transport = streaming_server(Reader())
    async with server:
        response = await Client(transport).post("/upload", b"x" * 1000)
        assert response.body == b"x" * 1000


async def test_a_body_taken_once_cannot_be_taken_again() -> None:
    class Twice(Component):
        channel = "web"

        async def request(self, request: Request, response: Response) -> str:
            first = b"".join([chunk async for chunk in request.stream()])
            with pytest.raises(BodyConsumed):
                request.stream()
            return first.decode()

    server, transport = streaming_server(Twice())
    async with server:
        assert (await Client(transport).post("/upload", b"once")).text == "once"


async def test_a_streamed_body_past_the_spool_threshold_is_read_from_a_file() -> None:
    class Reader(Component):
        channel = "web"

        async def request(self, request: Request, response: Response) -> str:
            data = await request.read()
            return f"{len(data)} {request.body.tell()} {type(request.body).__name__}"

    server, transport = streaming_server(Reader(), limits=Limits(spool_threshold=100))
    async with server:
        client = Client(transport)
        client.send(head(None))
        for _ in range(5):
            client.send(b"40\r\n" + b"y" * 64 + b"\r\n")
        client.send(b"0\r\n\r\n")
        response = await client.response()
        size, position, kind = response.text.split()
        assert (size, position) == ("320", "0")
        assert kind != "BytesIO"


async def test_a_streamed_multipart_form_is_parsed_with_its_files_spooled() -> None:
    boundary = "XyZ"
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="title"\r\n\r\nhello\r\n'
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="a.bin"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n"
        ).encode()
        + b"z" * 5000
        + f"\r\n--{boundary}--\r\n".encode()
    )

    class Form(Component):
        channel = "web"

        async def request(self, request: Request, response: Response) -> dict[str, Any]:
            form = await request.form()
            upload = form.file("file")
            assert upload is not None
            return {"title": form["title"], "size": upload.size}

    server, transport = streaming_server(Form(), limits=Limits(spool_threshold=1000))
    async with server:
        response = await Client(transport).post(
            "/upload",
            body,
            headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
        )
        assert response.json() == {"title": "hello", "size": 5000}


async def test_a_stream_rule_can_be_removed_and_takes_predicates() -> None:
    app = Uploads()
    app.go.set()
    server, transport = memory_server(app)
    remove = server.http.stream_bodies(lambda request: request.method == "PUT")
    async with server:
        client = Client(transport)
        assert (await client.request("PUT", "/upload", body=b"abc")).text == "got 3"
        assert (await client.post("/upload", b"abcd")).text == "got 4"
        remove()
        remove()  # twice is harmless
        assert (await client.request("PUT", "/upload", body=b"ab")).text == "got 2"
    assert app.streamed == [True, False, False]


def test_a_prefix_rule_starts_with_a_slash() -> None:
    server, _ = memory_server()
    with pytest.raises(ValueError, match="starts with '/'"):
        server.http.stream_bodies("upload")


class Files(Controller):
    @expose(stream=True, methods=["POST"])
    async def upload(self, name: str = "?") -> str:
        size = 0
        async for chunk in self.request.stream():
            size += len(chunk)
        return f"{name}: {size} streamed={self.request.streamed}"

    def index(self) -> str:
        return "index"


async def test_a_page_exposed_with_stream_is_called_at_head_time() -> None:
    server, transport = memory_server(Dispatcher(), Files())
    async with server:
        client = Client(transport)
        client.send(
            b"POST /upload?name=a HTTP/1.1\r\nHost: a\r\nContent-Type: "
            b"application/x-www-form-urlencoded\r\nTransfer-Encoding: chunked\r\n\r\n"
        )
        client.send(b"3\r\nx=1\r\n0\r\n\r\n")
        assert (await client.response()).text == "a: 3 streamed=True"
        assert (await client.post("/", b"x=1")).text == "index"


async def test_pages_without_stream_ask_for_no_stream_rule() -> None:
    class Plain(Controller):
        def index(self) -> str:
            return "plain"

    server, transport = memory_server(Dispatcher(), Plain())
    async with server:
        assert server.http._context.stream_rules == []
        assert (await Client(transport).post("/", b"a=1")).text == "plain"


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    body=st.binary(max_size=300),
    cuts=st.lists(st.integers(min_value=0, max_value=400), max_size=6),
    chunked=st.booleans(),
)
def test_any_split_of_a_body_streams_the_same_bytes(
    body: bytes, cuts: list[int], chunked: bool
) -> None:
    if chunked:
        encoded = b"".join(
            b"%x\r\n%s\r\n" % (len(part), part) for part in _parts(body, cuts) if part
        )
        wire = head(None) + encoded + b"0\r\n\r\n"
    else:
        wire = head(len(body)) + body
    wire += b"GET /after HTTP/1.1\r\nHost: a\r\n\r\n"  # trailing bytes: the next request

    class Echo(Component):
        channel = "web"

        async def request(self, request: Request, response: Response) -> bytes:
            return b"".join([chunk async for chunk in request.stream()])

    async def run() -> list[bytes]:
        server, transport = streaming_server(Echo())
        async with server:
            client = Client(transport)
            for piece in _parts(wire, cuts):
                client.send(piece)
            return [response.body for response in await client.responses(2)]

    assert asyncio.run(run()) == [body, b""]


def _parts(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({min(cut, len(data)) for cut in cuts} | {0, len(data)})
    return [data[a:b] for a, b in itertools.pairwise(points) if b > a] or [data]


@pytest.mark.integration
def test_an_upload_over_the_body_buffer_streams_over_a_real_socket() -> None:
    class Counter(Component):
        channel = "web"

        def __init__(self) -> None:
            super().__init__()
            self.chunks = 0

        async def request(self, request: Request, response: Response) -> str:
            size = 0
            async for chunk in request.stream():
                size += len(chunk)
                self.chunks += 1
            return str(size)

    app = Counter()
    total = 32 * 1024 * 1024
    server = Server("tcp://127.0.0.1:0", limits=Limits(max_body_size=64 * 1024 * 1024)) + app
    server.http.stream_bodies("/upload")
    with (
        serve_in_thread(server) as running,
        socket.create_connection(("127.0.0.1", running.port), timeout=30) as sock,
    ):
        sock.sendall(head(total))
        block = b"u" * (1024 * 1024)
        for _ in range(total // len(block)):
            sock.sendall(block)
        received = b""
        while b"\r\n\r\n" not in received or not received.endswith(str(total).encode()):
            data = sock.recv(65536)
            assert data, "the server closed the connection"
            received += data
        (response,) = parse_responses(received)
        assert response.status == 200
        assert response.text == str(total)
    assert app.chunks > 1  # taken as it came, not in one piece
