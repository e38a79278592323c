"""Session: methods, bodies, streaming, the pool, retries, timeouts, redirects, decoding."""

from __future__ import annotations

import asyncio
import gzip
import json
import socket
import zlib
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from scripted import ReceivedRequest, ThenClose, reply

from relays_http.client import (
    ClientError,
    ConnectError,
    HTTPStatusError,
    InvalidURL,
    PoolLimits,
    PoolTimeout,
    ReadTimeout,
    RemoteProtocolError,
    ResponseLimits,
    ResponseNotRead,
    ResponseTooLarge,
    ServerDisconnected,
    Session,
    Timeouts,
    TooManyRedirects,
    TotalTimeout,
    WriteTimeout,
)

Serve = Callable[..., Any]


def echo(request: ReceivedRequest) -> bytes:
    """The request as JSON, so a test can look at what arrived."""
    body = json.dumps(
        {
            "method": request.method,
            "target": request.target,
            "headers": request.headers,
            "body": request.body.decode("latin-1"),
        }
    ).encode()
    return reply(body, headers={"Content-Type": "application/json"})


async def test_get_sends_host_and_defaults_and_reads_json(serve: Serve) -> None:
    async with serve(echo) as server, Session() as session:
        response = await session.get(server.url("/path"), params={"q": "a b", "n": [1, 2]})
        assert response.status_code == 200
        assert response.status == 200  # the server side's and aiohttp's name
        assert response.ok
        seen = response.json()
    assert seen["method"] == "GET"
    assert seen["target"] == "/path?q=a+b&n=1&n=2"
    assert seen["headers"]["host"] == f"127.0.0.1:{server.port}"
    assert "gzip" in seen["headers"]["accept-encoding"]
    assert "content-length" not in seen["headers"]
    assert response.headers["Content-Type"] == "application/json"
    assert response.url == server.url("/path?q=a+b&n=1&n=2")


@pytest.mark.parametrize(
    ("options", "body", "content_type"),
    [
        ({"json": {"a": [1, "é"]}}, '{"a":[1,"é"]}'.encode(), "application/json"),
        ({"data": {"a": "1 2", "b": "&"}}, b"a=1+2&b=%26", "application/x-www-form-urlencoded"),
        ({"data": b"raw"}, b"raw", None),
        ({"content": "text é"}, "text é".encode(), None),
    ],
)
async def test_post_bodies(
    serve: Serve, options: dict[str, Any], body: bytes, content_type: str | None
) -> None:
    async with serve(echo) as server, Session() as session:
        seen = (await session.post(server.url(), **options)).json()
    assert seen["body"].encode("latin-1") == body
    assert seen["headers"]["content-length"] == str(len(body))
    assert seen["headers"].get("content-type") == content_type


async def test_streaming_upload_from_an_async_iterator_is_chunked(serve: Serve) -> None:
    async def pieces() -> AsyncIterator[bytes]:
        for piece in (b"one ", b"two ", b"three"):
            yield piece

    async with serve(echo) as server, Session() as session:
        seen = (await session.put(server.url(), content=pieces())).json()
    assert seen["body"] == "one two three"
    assert seen["headers"]["transfer-encoding"] == "chunked"


async def test_streaming_upload_from_a_file_has_a_length(serve: Serve, tmp_path: Path) -> None:
    path = tmp_path / "upload.bin"
    path.write_bytes(bytes(range(256)) * 1000)
    async with serve(echo) as server, Session() as session:
        with path.open("rb") as file:
            seen = (await session.post(server.url(), content=file)).json()
    assert seen["body"].encode("latin-1") == path.read_bytes()
    assert seen["headers"]["content-length"] == str(256_000)


async def test_one_body_argument_at_most() -> None:
    async with Session() as session:
        with pytest.raises(ClientError, match="at most one"):
            await session.post("http://127.0.0.1:1/", json=1, data=b"x")


async def test_streaming_download(serve: Serve) -> None:
    chunked = (
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
        + b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in (b"a" * 10, b"b" * 20))
        + b"0\r\nX-Sum: 30\r\n\r\n"
    )
    async with (
        serve(lambda request: chunked) as server,
        Session() as session,
        session.stream("GET", server.url()) as response,
    ):
        with pytest.raises(ResponseNotRead):
            _ = response.content
        pieces = [piece async for piece in response.iter_bytes()]
        assert b"".join(pieces) == b"a" * 10 + b"b" * 20
        assert response.trailers == [(b"x-sum", b"30")]
        assert session.pool.idle_connections(response_origin(session)) == 1


def response_origin(session: Session) -> Any:
    (origin,) = session.pool._idle
    return origin


@pytest.mark.parametrize(
    ("content_type", "body", "text"),
    [
        ("text/plain; charset=iso-8859-1", "é".encode("latin-1"), "é"),
        ('text/plain; charset="utf-8"', "é".encode(), "é"),
        ("text/plain", "é".encode(), "é"),
        ("text/plain; charset=nonsense", "é".encode(), "é"),
        ("text/plain; charset=ascii", b"\xff", "\ufffd"),
    ],
)
async def test_text_uses_the_charset(
    serve: Serve, content_type: str, body: bytes, text: str
) -> None:
    async with (
        serve(lambda r: reply(body, headers={"Content-Type": content_type})) as server,
        Session() as session,
    ):
        assert (await session.get(server.url())).text == text


async def test_raise_for_status(serve: Serve) -> None:
    async with serve(lambda r: reply(b"no", "404 Not Found")) as server, Session() as session:
        response = await session.get(server.url())
        with pytest.raises(HTTPStatusError, match="404 Not Found") as caught:
            response.raise_for_status()
    assert caught.value.response is response


async def test_invalid_urls() -> None:
    async with Session() as session:
        for url in ("ftp://x/", "http:///path", "http://host:port/", "nothing"):
            with pytest.raises(InvalidURL):
                await session.get(url)


# -- the pool ---------------------------------------------------------------------------


async def test_keep_alive_reuses_one_connection(serve: Serve) -> None:
    async with serve(echo) as server, Session() as session:
        for _ in range(3):
            await session.get(server.url())
    assert server.connections == 1
    assert [request.index for request in server.requests] == [0, 1, 2]


async def test_connection_close_is_not_reused(serve: Serve) -> None:
    async with (
        serve(lambda r: reply(b"x", headers={"Connection": "close"})) as server,
        Session() as session,
    ):
        await session.get(server.url())
        await session.get(server.url())
    assert server.connections == 2


async def test_an_unread_streamed_body_closes_its_connection(serve: Serve) -> None:
    async with (
        serve(lambda r: reply(b"x" * 100)) as server,
        Session() as session,
        session.stream("GET", server.url()),
    ):
        pass
        await session.get(server.url())
    assert server.connections == 2


async def test_the_pool_limit_queues_requests(serve: Serve) -> None:
    release = asyncio.Event()
    arrived = asyncio.Event()

    async def slow(request: ReceivedRequest) -> bytes:
        if request.index == 0:
            arrived.set()
            await release.wait()
        return reply(b"ok")

    async with (
        serve(slow) as server,
        Session(pool_limits=PoolLimits(max_connections=1)) as session,
    ):
        first = asyncio.ensure_future(session.get(server.url()))
        second = asyncio.ensure_future(session.get(server.url()))
        await arrived.wait()  # the first request holds the only connection
        release.set()
        assert [r.status_code for r in await asyncio.gather(first, second)] == [200, 200]
    assert server.connections == 1


async def test_pool_timeout(serve: Serve) -> None:
    async with serve(lambda r: reply(b"x" * 10)) as server:
        limits = PoolLimits(max_connections=1)
        async with (
            Session(pool_limits=limits, timeouts=Timeouts(pool=0.01)) as session,
            session.stream("GET", server.url()),
        ):
            with pytest.raises(PoolTimeout, match=r"Timeouts\.pool"):
                await session.get(server.url())


async def test_per_host_limit_with_room_elsewhere(serve: Serve) -> None:
    async with serve(lambda r: reply(b"x")) as server:
        limits = PoolLimits(max_connections=10, max_per_host=1)
        async with (
            Session(pool_limits=limits, timeouts=Timeouts(pool=0.01)) as session,
            session.stream("GET", server.url()),
        ):
            with pytest.raises(PoolTimeout):
                await session.get(server.url())
            other = await session.get(server.url(host="localhost"))
            assert other.status_code == 200


async def test_an_expired_idle_connection_is_not_reused(serve: Serve) -> None:
    async with (
        serve(echo) as server,
        Session(pool_limits=PoolLimits(idle_timeout=0.001)) as session,
    ):
        await session.get(server.url())
        await asyncio.sleep(0.002)  # the loop's clock passes the expiry: no race
        await session.get(server.url())
    assert server.connections == 2


async def test_an_idempotent_request_is_retried_when_a_reused_connection_was_closed(
    serve: Serve,
) -> None:
    # The second request on the first connection finds it closed (the server's
    # keep-alive timer): no answer at all, as RFC 9112 9.3.1 describes.
    def closing(request: ReceivedRequest) -> bytes | None:
        return None if request.index == 1 else reply(b"fine")

    async with serve(closing) as server, Session() as session:
        await session.get(server.url())
        assert (await session.get(server.url())).content == b"fine"
        with pytest.raises(ServerDisconnected):
            await session.post(server.url(), content=b"not twice")  # connection 1, index 1
    assert server.connections == 2


async def test_a_fresh_connection_closed_without_answer_is_not_retried(serve: Serve) -> None:
    async with serve(lambda r: None) as server, Session() as session:
        with pytest.raises(ServerDisconnected, match="without answering"):
            await session.get(server.url())
    assert server.connections == 1


async def test_a_closed_session_refuses_requests() -> None:
    session = Session()
    await session.close()
    with pytest.raises(ClientError, match="closed"):
        await session.get("http://127.0.0.1:1/")


# -- timeouts and connection errors -----------------------------------------------------


async def test_read_timeout(serve: Serve) -> None:
    never = asyncio.Event()

    async def silent(request: ReceivedRequest) -> bytes:
        await never.wait()
        return b""

    async with serve(silent) as server, Session(timeouts=Timeouts(read=0.01)) as session:
        with pytest.raises(ReadTimeout, match=r"Timeouts\.read"):
            await session.get(server.url())
        never.set()


async def test_total_timeout(serve: Serve) -> None:
    never = asyncio.Event()

    async def silent(request: ReceivedRequest) -> bytes:
        await never.wait()
        return b""

    timeouts = Timeouts(read=None, total=0.01)
    async with serve(silent) as server, Session(timeouts=timeouts) as session:
        with pytest.raises(TotalTimeout, match=r"Timeouts\.total"):
            await session.get(server.url())
        never.set()


async def test_write_timeout_when_the_server_does_not_read() -> None:
    accepted: list[socket.socket] = []
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]

    async def endless() -> AsyncIterator[bytes]:
        chunk = b"x" * 65536
        while True:
            yield chunk

    async def accept() -> None:
        loop = asyncio.get_running_loop()
        listener.setblocking(False)
        connection, _ = await loop.sock_accept(listener)
        accepted.append(connection)  # and never read from it

    acceptor = asyncio.ensure_future(accept())
    try:
        async with Session(timeouts=Timeouts(write=0.05)) as session:
            with pytest.raises(WriteTimeout, match=r"Timeouts\.write"):
                await session.post(f"http://127.0.0.1:{port}/", content=endless())
    finally:
        await acceptor
        for connection in accepted:
            connection.close()
        listener.close()


async def test_connection_refused_names_the_host() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # bound, never listening: refused
        async with Session() as session:
            with pytest.raises(ConnectError, match=f"127.0.0.1:{port}"):
                await session.get(f"http://127.0.0.1:{port}/")


# -- redirects --------------------------------------------------------------------------


def redirecting(status: str, to: str) -> Callable[[ReceivedRequest], bytes]:
    def respond(request: ReceivedRequest) -> bytes:
        if request.target == "/start":
            return reply(b"moved", status, {"Location": to})
        return echo(request)

    return respond


@pytest.mark.parametrize(
    ("status", "method", "then", "body"),
    [
        ("301 Moved Permanently", "POST", "GET", ""),
        ("302 Found", "POST", "GET", ""),
        ("302 Found", "PUT", "PUT", "data"),
        ("303 See Other", "PUT", "GET", ""),
        ("303 See Other", "HEAD", "HEAD", None),
        ("307 Temporary Redirect", "POST", "POST", "data"),
        ("308 Permanent Redirect", "POST", "POST", "data"),
    ],
)
async def test_redirects_rewrite_methods_as_rfc_9110_says(
    serve: Serve, status: str, method: str, then: str, body: str | None
) -> None:
    async with serve(redirecting(status, "/end")) as server, Session() as session:
        response = await session.request(method, server.url("/start"), content=b"data")
    assert [r.status_code for r in response.history] == [int(status[:3])]
    last = server.requests[-1]
    assert (last.method, last.target) == (then, "/end")
    if body is not None:
        assert last.body == body.encode()
        assert ("content-length" in last.headers) is bool(body) or then == "PUT"
    assert server.connections == 1  # the redirect's small body was read: reused
    assert response.url == server.url("/end")


async def test_redirects_can_be_left_to_the_caller(serve: Serve) -> None:
    async with serve(redirecting("302 Found", "/end")) as server, Session() as session:
        response = await session.get(server.url("/start"), follow_redirects=False)
    assert response.status_code == 302
    assert response.is_redirect


async def test_too_many_redirects(serve: Serve) -> None:
    async with (
        serve(lambda r: reply(b"", "302 Found", {"Location": "/again"})) as server,
        Session(max_redirects=3) as session,
    ):
        with pytest.raises(TooManyRedirects, match="more than 3"):
            await session.get(server.url())
    assert len(server.requests) == 4


async def test_credentials_do_not_follow_to_another_origin(serve: Serve) -> None:
    async with serve(echo) as other:
        target = other.url("/landing", host="localhost")  # another origin: host differs
        async with serve(redirecting("302 Found", target)) as server, Session() as session:
            response = await session.get(
                server.url("/start"), headers={"Authorization": "Bearer secret", "X-Kept": "1"}
            )
    assert server.requests[0].headers["authorization"] == "Bearer secret"
    seen = response.json()
    assert "authorization" not in seen["headers"]
    assert seen["headers"]["x-kept"] == "1"
    assert seen["headers"]["host"] == f"localhost:{other.port}"


async def test_credentials_in_the_url_become_basic_auth(serve: Serve) -> None:
    async with serve(echo) as server, Session() as session:
        url = server.url("/").replace("http://", "http://user:pa%3Ass@")
        seen = (await session.get(url)).json()
    assert seen["headers"]["authorization"] == "Basic dXNlcjpwYTpzcw=="


# -- decompression ----------------------------------------------------------------------

TEXT = b"relays " * 500


@pytest.mark.parametrize(
    ("encoding", "encoded"),
    [
        ("gzip", gzip.compress(TEXT)),
        ("deflate", zlib.compress(TEXT)),
        ("deflate", zlib.compress(TEXT)[2:-4]),  # raw deflate, as some servers send it
        ("identity", TEXT),
    ],
)
async def test_bodies_are_decompressed(serve: Serve, encoding: str, encoded: bytes) -> None:
    headers = {"Content-Encoding": encoding}
    async with serve(lambda r: reply(encoded, headers=headers)) as server, Session() as session:
        assert (await session.get(server.url())).content == TEXT
        async with session.stream("GET", server.url()) as response:
            raw = b"".join([piece async for piece in response.iter_raw()])
        assert raw == encoded


async def test_an_unknown_encoding_is_left_as_it_came(serve: Serve) -> None:
    headers = {"Content-Encoding": "compress"}
    async with serve(lambda r: reply(b"LZW", headers=headers)) as server, Session() as session:
        assert (await session.get(server.url())).content == b"LZW"


async def test_a_decompression_bomb_stops_at_the_limit(serve: Serve) -> None:
    bomb = gzip.compress(b"\0" * 10_000_000)
    limits = ResponseLimits(max_body_size=1_000_000)
    headers = {"Content-Encoding": "gzip"}
    async with (
        serve(lambda r: reply(bomb, headers=headers)) as server,
        Session(response_limits=limits) as session,
    ):
        with pytest.raises(ResponseTooLarge, match="decodes to more than max_body_size"):
            await session.get(server.url())


async def test_a_corrupt_gzip_body_is_a_decoding_error(serve: Serve) -> None:
    headers = {"Content-Encoding": "gzip"}
    async with (
        serve(lambda r: reply(b"not gzip", headers=headers)) as server,
        Session() as session,
    ):
        with pytest.raises(RemoteProtocolError, match="cannot decode"):
            await session.get(server.url())


# -- bad servers ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("answer", "error", "message"),
    [
        (b"HTTP/1.1 OK\r\n\r\n", RemoteProtocolError, "malformed status line"),
        (
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nxyz\r\n",
            RemoteProtocolError,
            "chunk size",
        ),
        (
            b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort",
            RemoteProtocolError,
            "middle of the response body",
        ),
        (
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab",
            RemoteProtocolError,
            "middle of the response body",
        ),
        (b"HTTP/1.1 200 OK\r\n" + b"X-Flood: 1\r\n" * 20_000, ResponseTooLarge, "max_head_size"),
        (
            b"HTTP/1.1 200 OK\r\n" + b"X: 1\r\n" * 300 + b"\r\n",
            ResponseTooLarge,
            "max_header_count",
        ),
        (b"HTTP/1.1 200 OK\r\nX: " + b"y" * 20_000, ResponseTooLarge, "max_header_size"),
        (b"HTTP/1.1 200 OK\r\n\r\n" + b"z" * 2000, ResponseTooLarge, "max_body_size"),
    ],
)
async def test_bad_servers_raise_named_errors(
    serve: Serve, answer: bytes, error: type[Exception], message: str
) -> None:
    limits = ResponseLimits(max_body_size=1000)

    def once(request: ReceivedRequest) -> bytes:
        return ThenClose(answer)

    async with serve(once) as server, Session(response_limits=limits) as session:
        with pytest.raises(error, match=message):
            await session.get(server.url())


async def test_an_endless_body_stops_at_the_limit_without_hanging(serve: Serve) -> None:
    endless = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + b"400\r\n" + b"e" * 1024
    limits = ResponseLimits(max_body_size=100_000)

    async def respond(request: ReceivedRequest) -> bytes:
        return endless + (b"\r\n400\r\n" + b"e" * 1024) * 200  # 200 KiB, never ended

    async with serve(respond) as server, Session(response_limits=limits) as session:
        with pytest.raises(ResponseTooLarge, match="max_body_size"):
            await session.get(server.url())


@pytest.mark.parametrize("encoding", ["br", "zstd"])
async def test_brotli_and_zstd_when_installed(serve: Serve, encoding: str) -> None:
    if encoding == "br":
        brotli = pytest.importorskip("brotli")
        encoded = brotli.compress(TEXT)
    else:
        zstandard = pytest.importorskip("zstandard")
        encoded = zstandard.ZstdCompressor().compress(TEXT)
    headers = {"Content-Encoding": encoding}
    async with serve(lambda r: reply(encoded, headers=headers)) as server, Session() as session:
        response = await session.get(server.url())
        assert response.content == TEXT
    assert encoding in server.requests[0].headers["accept-encoding"]


# -- Expect: 100-continue ---------------------------------------------------------------


async def test_a_large_body_waits_for_100_continue(serve: Serve) -> None:
    async with serve(echo) as server, Session(expect_continue_size=1000) as session:
        seen = (await session.post(server.url(), content=b"x" * 1000)).json()
        small = (await session.post(server.url(), content=b"y" * 999)).json()
    assert seen["headers"]["expect"] == "100-continue"
    assert seen["body"] == "x" * 1000
    assert "expect" not in small["headers"]
    assert server.connections == 1


async def test_a_refusal_before_the_body_saves_sending_it(serve: Serve) -> None:
    started = False

    async def body() -> AsyncIterator[bytes]:
        nonlocal started
        started = True
        yield b"never sent"

    refusal = reply(b"too big", "413 Content Too Large", {"Connection": "close"})
    async with serve(echo, on_expect=refusal) as server, Session() as session:
        response = await session.put(server.url(), content=body())
        assert response.status_code == 413
        assert response.content == b"too big"
        assert not started
        assert session.pool.open_connections == 0  # not reused: the body is owed


async def test_a_server_that_ignores_expect_gets_the_body_anyway(serve: Serve) -> None:
    timeouts = Timeouts(expect_continue=0.01)
    async with (
        serve(echo, on_expect=None) as server,
        Session(timeouts=timeouts, expect_continue_size=10) as session,
    ):
        seen = (await session.post(server.url(), content=b"z" * 10)).json()
    assert seen["body"] == "z" * 10


async def test_a_failed_connect_frees_its_place_for_a_waiting_request(serve: Serve) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        refused = f"http://127.0.0.1:{probe.getsockname()[1]}/"
        async with serve(echo) as server:
            limits = PoolLimits(max_connections=1)
            async with Session(pool_limits=limits, timeouts=Timeouts(pool=30)) as session:
                failing = asyncio.ensure_future(session.get(refused))
                waiting = asyncio.ensure_future(session.get(server.url()))
                with pytest.raises(ConnectError):
                    await failing
                assert (await waiting).status_code == 200
                assert session.pool.open_connections == 1
            assert session.pool.open_connections == 0
