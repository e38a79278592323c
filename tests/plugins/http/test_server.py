"""The HTTP component over the in-memory transport: answers, pipelining, streaming, errors."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from relays import BaseComponent, Component, handler
from relays.testing import MemoryTransport
from relays_http import (
    BaseServer,
    HTTPError,
    Limits,
    NotFound,
    Redirect,
    Request,
    Response,
    _dateline,
)
from relays_http.events import RequestEvent
from relays_http.testing import Client, memory_server

serve = memory_server


def get(path: str, *, close: bool = False, extra: str = "") -> bytes:
    connection = "Connection: close\r\n" if close else ""
    return f"GET {path} HTTP/1.1\r\nHost: test\r\n{connection}{extra}\r\n".encode()


class Echo(Component):
    channel = "web"

    def request(self, request: Request, response: Response) -> Any:
        path = request.path
        if path == "/text":
            return "héllo"
        if path == "/bytes":
            return b"\x00\x01"
        if path == "/json":
            return {"query": request.query.getall("a")}
        if path == "/list":
            return [1, 2]
        if path == "/response":
            return Response("made", 201, headers={"X-Made": "yes"})
        if path == "/status":
            response.status = 202
            response.headers["X-Thing"] = "1"
            return "accepted"
        if path == "/empty":
            response.status = 204
            return Response(status=204)
        if path == "/missing":
            raise NotFound("no such thing")
        if path == "/teapot":
            return HTTPError(418 if False else 409, "conflict")
        if path == "/redirect":
            response.set_cookie("session", "abc")
            raise Redirect("/elsewhere")
        if path == "/boom":
            raise RuntimeError("secret detail")
        if path == "/badheader":
            response.headers["X-Bad"] = "a\r\nInjected: yes"
            return "x"
        if path == "/badtype":
            return 42
        if path == "/stream":
            return iter([b"a", "b", b"c"])
        if path == "/post":
            return {"body": request.content.decode(), "length": request.content_length}
        return None


@pytest.fixture
def echo() -> tuple[BaseServer, MemoryTransport]:
    return serve(Echo())


async def test_bodies_of_every_type(echo: tuple[BaseServer, MemoryTransport]) -> None:
    server, transport = echo
    async with server:
        client = Client(transport)
        [(status, headers, body)] = await client.exchange(get("/text"))
        assert (status, body) == (200, "héllo".encode())
        assert headers["content-type"] == "text/html; charset=utf-8"
        assert headers["server"] == "relays"
        assert headers["date"].endswith("GMT")
        [(status, headers, body)] = await client.exchange(get("/bytes"))
        assert (body, headers["content-type"]) == (b"\x00\x01", "application/octet-stream")
        [(status, headers, body)] = await client.exchange(get("/json?a=1&a=2"))
        assert headers["content-type"] == "application/json"
        assert json.loads(body) == {"query": ["1", "2"]}
        [(_, _, body)] = await client.exchange(get("/list"))
        assert json.loads(body) == [1, 2]
        [(status, headers, body)] = await client.exchange(get("/response"))
        assert (status, headers["x-made"], body) == (201, "yes", b"made")
        [(status, headers, body)] = await client.exchange(get("/status"))
        assert (status, headers["x-thing"], body) == (202, "1", b"accepted")
        [(status, headers, body)] = await client.exchange(get("/empty"))
        assert (status, body) == (204, b"")
        assert "content-length" not in headers


async def test_the_date_field_follows_the_clock_each_second_both_ways(
    echo: tuple[BaseServer, MemoryTransport], monkeypatch: pytest.MonkeyPatch
) -> None:
    # The Date and Server lines are rendered once a second; a clock set back renders
    # them again too.
    now = [0.0]
    monkeypatch.setattr(_dateline, "wall_clock", lambda: now[0])
    server, transport = echo
    dates = []
    async with server:
        client = Client(transport)
        for moment in (784111777.0, 784111777.9, 784111778.2, 784111777.5):
            now[0] = moment
            [(_, headers, _)] = await client.exchange(get("/bytes"))
            dates.append(headers["date"])
    assert dates == [
        "Sun, 06 Nov 1994 08:49:37 GMT",
        "Sun, 06 Nov 1994 08:49:37 GMT",
        "Sun, 06 Nov 1994 08:49:38 GMT",
        "Sun, 06 Nov 1994 08:49:37 GMT",
    ]


class Typed(Component):
    """The same answers with and without fields of the handler's own."""

    channel = "web"

    def request(self, request: Request, response: Response) -> Any:
        if request.query.get("fields"):
            _ = response.headers  # an empty set of the app's fields: the field-list path
        if request.path == "/json":
            return {"a": 1}
        return "héllo" if request.path == "/text" else b"\x00"


async def test_a_response_without_fields_of_its_own_has_the_same_bytes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The Date line and the content type are rendered as one bytes object when the
    # app set no field; the head must be the one the field list gives, every second.
    now = [784111777.0]
    monkeypatch.setattr(_dateline, "wall_clock", lambda: now[0])
    server, transport = serve(Typed())
    async with server:
        client = transport.connect()
        for moment in (784111777.0, 784111778.5):
            now[0] = moment
            for path in ("/text", "/bytes", "/json"):
                heads = []
                for query in ("", "?fields=1"):
                    client.send(f"GET {path}{query} HTTP/1.1\r\nHost: t\r\n\r\n".encode())
                    data = await client.wait(lambda data: b"\r\n\r\n" in data)
                    head = data.partition(b"\r\n\r\n")[0]
                    length = int(head.split(b"content-length: ")[1].split(b"\r\n")[0])
                    data = await client.wait(
                        lambda data: len(data) >= len(head) + 4 + length  # noqa: B023
                    )
                    client.take()
                    heads.append(head)
                assert heads[0] == heads[1]
                assert heads[0].count(b"content-type: ") == 1
                assert b"date: " in heads[0]


async def test_nobody_answering_is_a_404(echo: tuple[BaseServer, MemoryTransport]) -> None:
    server, transport = echo
    async with server:
        [(status, _, body)] = await Client(transport).exchange(get("/nothing"))
        assert status == 404
        assert b"404 Not Found" in body


async def test_http_errors_raised_or_returned(echo: tuple[BaseServer, MemoryTransport]) -> None:
    server, transport = echo
    async with server:
        client = Client(transport)
        [(status, _, body)] = await client.exchange(get("/missing"))
        assert (status, b"no such thing" in body) == (404, True)
        [(status, _, body)] = await client.exchange(get("/teapot"))
        assert status == 409
        [(status, headers, _)] = await client.exchange(get("/redirect"))
        assert (status, headers["location"]) == (303, "/elsewhere")
        assert headers["set-cookie"].startswith("session=abc")


async def test_handler_failure_is_a_500_without_details(
    echo: tuple[BaseServer, MemoryTransport], caplog: pytest.LogCaptureFixture
) -> None:
    server, transport = echo
    async with server:
        with caplog.at_level(logging.ERROR, logger="relays.http"):
            [(status, _, body)] = await Client(transport).exchange(get("/boom"))
    assert status == 500
    assert b"secret detail" not in body
    assert b"Traceback" not in body
    reports = [r for r in caplog.records if "secret detail" in r.getMessage()]
    assert len(reports) == 1  # logged once (by the kernel: nobody handles the exception)
    assert "Traceback" in reports[0].getMessage()


async def test_http_errors_are_answers_not_logged_failures(
    caplog: pytest.LogCaptureFixture,
) -> None:
    class Refuser(Component):
        channel = "web"

        def request(self, request: Request, response: Response) -> None:
            raise NotFound("no such page")

    server, transport = serve(Refuser())
    async with server:
        with caplog.at_level(logging.ERROR):
            [(status, _, body)] = await Client(transport).exchange(get("/missing"))
    assert status == 404
    assert b"no such page" in body
    assert [r for r in caplog.records if r.levelno >= logging.ERROR] == []


async def test_debug_shows_the_traceback_as_json_when_asked() -> None:
    server, transport = serve(Echo(), debug=True)
    async with server:
        client = Client(transport)
        data = get("/boom", extra="Accept: application/json\r\n")
        [(status, headers, body)] = await client.exchange(data)
    assert (status, headers["content-type"]) == (500, "application/json")
    document = json.loads(body)
    assert document["status"] == 500
    assert "secret detail" in document["traceback"]


async def test_invalid_response_header_is_a_500(echo: tuple[BaseServer, MemoryTransport]) -> None:
    server, transport = echo
    async with server:
        client = Client(transport)
        [(status, headers, _)] = await client.exchange(get("/badheader"))
        assert status == 500
        assert "injected" not in headers
        [(status, _, _)] = await client.exchange(get("/badtype"))
        assert status == 500
        [(status, _, _)] = await client.exchange(get("/text"))
        assert status == 200  # the connection is still usable


async def test_pipelined_requests_are_answered_in_order(
    echo: tuple[BaseServer, MemoryTransport],
) -> None:
    server, transport = echo
    async with server:
        client = Client(transport)
        data = get("/text") + get("/json?a=x") + get("/missing") + get("/bytes", close=True)
        responses = await client.exchange(data, count=4)
        await client.wait_closed()
    assert [status for status, _, _ in responses] == [200, 200, 404, 200]
    assert responses[1].json() == {"query": ["x"]}


async def test_pipelining_with_a_slow_async_handler_keeps_order() -> None:
    class Slow(Component):
        channel = "web"

        async def request(self, request: Request, response: Response) -> str:
            if request.path == "/slow":
                await asyncio.sleep(0.05)
            return request.path

    server, transport = serve(Slow())
    async with server:
        client = Client(transport)
        responses = await client.exchange(get("/slow") + get("/fast") + get("/slow"), count=3)
    assert [body for _, _, body in responses] == [b"/slow", b"/fast", b"/slow"]


async def test_request_body_and_100_continue(echo: tuple[BaseServer, MemoryTransport]) -> None:
    server, transport = echo
    async with server:
        client = Client(transport)
        client.send(
            b"POST /post HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n"
        )
        assert await client.connection.wait() == b"HTTP/1.1 100 Continue\r\n\r\n"
        client.connection.take()
        [(status, _, body)] = await client.exchange(b"hello")
        assert (status, json.loads(body)) == (200, {"body": "hello", "length": 5})


async def test_chunked_request_body(echo: tuple[BaseServer, MemoryTransport]) -> None:
    server, transport = echo
    async with server:
        client = Client(transport)
        data = (
            b"POST /post HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
            b"3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n"
        )
        [(_status, _, body)] = await client.exchange(data)
        assert json.loads(body) == {"body": "abcde", "length": 5}


@pytest.mark.parametrize("first", [50, 4])  # over the threshold at once, or after pieces
async def test_large_body_is_spooled(first: int) -> None:
    server, transport = serve(Echo(), limits=Limits(spool_threshold=10))
    async with server:
        client = Client(transport)
        payload = bytes(range(65, 65 + 50)) * 2
        head = b"POST /post HTTP/1.1\r\nHost: t\r\nContent-Length: 100\r\n\r\n"
        client.send(head + payload[:first])
        await asyncio.sleep(0.01)
        client.send(payload[first : first + 4])
        await asyncio.sleep(0.01)
        [(_status, _, body)] = await client.exchange(payload[first + 4 :])
        assert json.loads(body) == {"body": payload.decode(), "length": 100}
        # The next body on the connection starts afresh, in memory.
        [(_status, _, body)] = await client.exchange(
            b"POST /post HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n\r\nabc"
        )
        assert json.loads(body) == {"body": "abc", "length": 3}


async def test_streamed_bodies_are_chunked() -> None:
    class Streams(Component):
        channel = "web"

        def request(self, request: Request, response: Response) -> Any:
            if request.path == "/sync":
                return iter([b"one", "two"])
            if request.path == "/fails":
                return self.failing()
            return self.chunks()

        @handler(False)
        async def chunks(self) -> AsyncIterator[bytes]:
            for part in (b"a", b"bb", b""):
                await asyncio.sleep(0)
                yield part

        @handler(False)
        def failing(self) -> Iterator[bytes]:
            yield b"start"
            raise RuntimeError("midway")

    server, transport = serve(Streams())
    async with server:
        client = Client(transport)
        [(_, headers, body)] = await client.exchange(get("/sync"))
        assert (headers["transfer-encoding"], body) == ("chunked", b"onetwo")
        [(_, headers, body)] = await client.exchange(get("/async"))
        assert body == b"abb"
        client.send(get("/fails"))
        received = await client.wait_closed()
        assert b"5\r\nstart\r\n" in received
        assert not received.endswith(b"0\r\n\r\n")


async def test_head_gets_no_body(echo: tuple[BaseServer, MemoryTransport]) -> None:
    server, transport = echo
    async with server:
        client = Client(transport)
        client.send(b"HEAD /text HTTP/1.1\r\nHost: t\r\n\r\n")
        received = await client.connection.wait(lambda data: data.endswith(b"\r\n\r\n"))
        assert b"content-length: 6\r\n" in received
        assert received.endswith(b"\r\n\r\n")


async def test_http_10_closes_after_the_response(echo: tuple[BaseServer, MemoryTransport]) -> None:
    server, transport = echo
    async with server:
        client = Client(transport)
        client.send(b"GET /text HTTP/1.0\r\n\r\n")
        received = await client.wait_closed()
    assert received.startswith(b"HTTP/1.1 200 OK\r\n")
    assert b"connection: close" in received


async def test_protocol_errors_are_answered_and_closed(
    echo: tuple[BaseServer, MemoryTransport],
) -> None:
    server, transport = echo
    async with server:
        client = Client(transport)
        client.send(
            b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n"
        )
        received = await client.wait_closed()
    assert received.startswith(b"HTTP/1.1 400 ")


async def test_first_answer_wins_and_response_events_fire() -> None:
    seen: list[int] = []

    class First(Component):
        channel = "web"

        @handler("request", priority=10)
        def answer(self, request: Request, response: Response) -> str:
            return "first"

    class Second(Component):
        channel = "web"

        def request(self, request: Request, response: Response) -> str:
            return "second"

        def response(self, request: Request, response: Response) -> None:
            seen.append(response.status)

    server, transport = serve(Second(), First())
    async with server:
        [(_, _, body)] = await Client(transport).exchange(get("/"))
        await asyncio.sleep(0.01)
    assert body == b"first"
    assert seen == [200]


async def test_request_event_carries_request_and_response() -> None:
    captured: list[Any] = []

    class Spy(BaseComponent):
        channel = "web"

        @handler("request")
        def spy(self, event: RequestEvent, request: Request, response: Response) -> str:
            captured.append((event.name, request.method, request.remote, request.scheme))
            return "ok"

    server, transport = serve(Spy())
    async with server:
        await Client(transport, peer=("10.0.0.1", 5555)).exchange(get("/"))
    assert captured == [("request", "GET", ("10.0.0.1", 5555), "http")]


async def test_client_cookies_are_not_echoed(echo: tuple[BaseServer, MemoryTransport]) -> None:
    server, transport = echo
    async with server:
        data = get("/text", extra="Cookie: session=secret\r\n")
        [(_, headers, _)] = await Client(transport).exchange(data)
    assert "set-cookie" not in headers


async def test_max_connections_gives_503() -> None:
    server, transport = serve(Echo(), limits=Limits(max_connections=1))
    async with server:
        first = Client(transport)
        second = Client(transport)
        received = await second.wait_closed()
        assert received.startswith(b"HTTP/1.1 503 ")
        [(status, _, _)] = await first.exchange(get("/text"))
        assert status == 200


async def test_disconnect_during_handler_drops_the_answer() -> None:
    release = asyncio.Event()

    class Waits(Component):
        channel = "web"

        async def request(self, request: Request, response: Response) -> str:
            await release.wait()
            return "late"

    server, transport = serve(Waits())
    async with server:
        client = Client(transport)
        client.send(get("/"))
        await asyncio.sleep(0.01)
        client.close()
        release.set()
        await asyncio.sleep(0.01)
        assert server.http.connections == 0


@pytest.mark.parametrize(
    ("first", "second", "body"),
    [
        ([1, 2], "second", b"[1,2]"),  # the first answer is a list: JSON, not "several"
        ("first", [1], b"first"),
        (b"first", b"second", b"first"),
        (None, [3], b"[3]"),  # the only answer is a list
        (None, None, None),  # nobody answers: a 404
    ],
)
async def test_the_first_answer_wins_whatever_the_types(
    first: Any, second: Any, body: bytes | None
) -> None:
    class First(Component):
        channel = "web"

        @handler("request", priority=10)
        def answer(self, request: Request, response: Response) -> Any:
            return first

    class Second(Component):
        channel = "web"

        def request(self, request: Request, response: Response) -> Any:
            return second

    server, transport = serve(Second(), First())
    async with server:
        [(status, _, got)] = await Client(transport).exchange(get("/"))
    if body is None:
        assert status == 404
    else:
        assert (status, got) == (200, body)
