"""Requests taken at their parsed head (``HTTP.take_heads``): the native path.

A head taker gets each request as an :class:`~relays_http.Exchange` before any
``Request`` is made, answers through it with bytes, and relays-http keeps the
framing, keep-alive, pipelining, ``HEAD``, 100-continue and header validation.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from relays import Component, handler
from relays_http import (
    ClientDisconnected,
    Exchange,
    Request,
    Response,
)
from relays_http.testing import Client, memory_server


class Fallback(Component):
    """Answers what the takers leave, and records it."""

    channel = "web"

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[str] = []

    def request(self, request: Request, response: Response) -> bytes:
        self.seen.append(request.path)
        return b"usual"


class Taker:
    """Takes every request under ``/native``; how it answers depends on the path."""

    def __init__(self) -> None:
        self.exchanges: list[Exchange] = []
        self.tasks: set[asyncio.Task[None]] = set()
        self.done = asyncio.Event()
        self.failure: BaseException | None = None
        self.gone = asyncio.Event()
        self.taken = asyncio.Event()

    def __call__(self, exchange: Exchange) -> bool:
        if not exchange.target.startswith(b"/native"):
            return False
        self.exchanges.append(exchange)
        self.taken.set()
        path = exchange.target
        if path == b"/native/whole":
            exchange.respond(200, [(b"content-type", b"text/plain")], b"whole " + exchange.method)
        else:
            task = asyncio.get_running_loop().create_task(self.answer(exchange))
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)
        return True

    async def answer(self, exchange: Exchange) -> None:
        try:
            path = exchange.target
            if path == b"/native/stream":
                assert exchange.start(200, [(b"content-type", b"text/plain")])
                await exchange.write(b"one,")
                await exchange.write(b"two")
                exchange.finish([(b"x-check", b"ok")])
            elif path == b"/native/echo":
                parts = []
                while chunk := await exchange.read():
                    parts.append(chunk)
                exchange.respond(200, [], b"".join(parts))
            elif path == b"/native/bad":
                exchange.respond(200, [(b"x-bad", b"a\r\nset-cookie: evil=1")], b"no")
            elif path == b"/native/wait":
                exchange.when_gone(self.gone.set)
                await self.gone.wait()
                with pytest.raises(ClientDisconnected):
                    await exchange.write(b"late")
        except BaseException as error:
            self.failure = error
            raise
        finally:
            self.done.set()


def serve(taker: Taker, *extra: Component) -> Any:
    server, transport = memory_server(Fallback(), *extra)
    server.http.take_heads(taker)
    return server, transport


async def test_a_taken_request_is_answered_whole_with_no_request_event() -> None:
    taker = Taker()
    server, transport = serve(taker)
    async with server:
        client = Client(transport)
        response = await client.get("/native/whole")
        assert response.status == 200
        assert response.body == b"whole GET"
        assert response.headers["content-length"] == "9"
        assert "date" in response.headers
        # Kept alive; a request the taker leaves goes the usual way.
        assert (await client.get("/elsewhere")).body == b"usual"
        assert not client.closed
    exchange = taker.exchanges[0]
    assert exchange.http_version == b"1.1"
    assert exchange.header(b"host") is not None
    assert exchange.header(b"x-none") is None
    assert exchange.connection.scheme == "http"


async def test_connection_info_is_made_when_first_asked_and_shared_by_the_connection() -> None:
    taker = Taker()
    server, transport = serve(taker)
    async with server:
        client = Client(transport)
        assert (await client.get("/native/whole")).status == 200
        assert (await client.get("/native/whole")).status == 200
        client.close()
    first, second = taker.exchanges
    # First asked of the later request, once both are answered and the client left.
    info = second.connection
    assert first.connection is info
    assert info.scheme == "http"
    assert info.client is not None
    assert info.notes == {}


async def test_the_upgrade_field_is_on_the_exchange_whatever_connection_says() -> None:
    taker = Taker()
    server, transport = serve(taker)
    async with server:
        client = Client(transport)
        client.send(
            b"GET /native/whole HTTP/1.1\r\nHost: a\r\n\r\n"
            b"GET /native/whole HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\n\r\n"
            b"GET /native/whole HTTP/1.1\r\nHost: a\r\nConnection: upgrade\r\n"
            b"Upgrade: echo\r\nUpgrade: h2c\r\n\r\n"
        )
        await client.responses(3)
    fields = [(exchange.upgrade, exchange.upgrade_field) for exchange in taker.exchanges]
    # ``upgrade`` only when Connection lists it; ``upgrade_field`` whenever sent.
    assert fields == [(None, None), (None, b"websocket"), (b"echo,h2c", b"echo,h2c")]


async def test_pipelined_requests_are_answered_in_order_across_both_paths() -> None:
    taker = Taker()
    server, transport = serve(taker)
    async with server:
        client = Client(transport)
        client.send(
            b"GET /native/whole HTTP/1.1\r\nHost: a\r\n\r\n"
            b"GET /other HTTP/1.1\r\nHost: a\r\n\r\n"
            b"GET /native/stream HTTP/1.1\r\nHost: a\r\n\r\n"
        )
        responses = await client.responses(3)
    assert [r.body for r in responses] == [b"whole GET", b"usual", b"one,two"]
    assert responses[2].headers["transfer-encoding"] == "chunked"


async def test_a_taken_request_that_closes_leaves_what_follows_unparsed() -> None:
    # Answered at once with ``Connection: close``: the connection closes and the
    # request pipelined behind it is neither offered nor answered.
    taker = Taker()
    server, transport = serve(taker)
    async with server:
        client = Client(transport)
        client.send(
            b"GET /native/whole HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"
            b"GET /native/whole HTTP/1.1\r\nHost: a\r\n\r\n"
            b"GET /other HTTP/1.1\r\nHost: a\r\n\r\n"
        )
        (response,) = await client.responses(1)
        assert response.body == b"whole GET"
        assert response.headers["connection"] == "close"
        assert await client.wait_closed() == b""
    assert len(taker.exchanges) == 1


async def test_head_sends_no_body_and_keeps_the_length() -> None:
    taker = Taker()
    server, transport = serve(taker)
    async with server:
        client = Client(transport)
        response = await client.request("HEAD", "/native/whole")
        assert response.status == 200
        assert response.body == b""
        assert response.headers["content-length"] == "10"
        assert (await client.get("/native/whole")).body == b"whole GET"


async def test_a_streamed_response_carries_trailers_to_a_client_that_takes_them() -> None:
    taker = Taker()
    server, transport = serve(taker)
    async with server:
        client = Client(transport)
        client.send(b"GET /native/stream HTTP/1.1\r\nHost: a\r\nTE: trailers\r\n\r\n")
        response = await client.response()
    assert response.body == b"one,two"
    assert response.trailers.get("x-check") == "ok"


async def test_a_body_streams_to_the_taker_and_100_continue_waits_for_its_read() -> None:
    taker = Taker()
    server, transport = serve(taker)
    async with server:
        client = Client(transport)
        client.send(
            b"POST /native/echo HTTP/1.1\r\nHost: a\r\nContent-Length: 6\r\n"
            b"Expect: 100-continue\r\n\r\n"
        )
        interim = await client.receive()
        assert interim.startswith(b"HTTP/1.1 100 Continue")
        client.send(b"abc")
        client.send(b"def")
        response = await client.response()
        assert response.body == b"abcdef"
        assert (await client.get("/native/whole")).status == 200  # kept alive


async def test_a_header_with_a_line_break_is_refused_and_a_plain_500_goes_out(
    caplog: pytest.LogCaptureFixture,
) -> None:
    taker = Taker()
    server, transport = serve(taker)
    async with server:
        with caplog.at_level(logging.ERROR, logger="relays.http"):
            response = await Client(transport).get("/native/bad")
    assert response.status == 500
    assert "set-cookie" not in response.headers
    assert "cannot send" in caplog.text


async def test_the_taker_hears_a_client_that_goes() -> None:
    taker = Taker()
    server, transport = serve(taker)
    async with server:
        client = Client(transport)
        client.send(b"GET /native/wait HTTP/1.1\r\nHost: a\r\n\r\n")
        await taker.taken.wait()
        client.close()
        await taker.gone.wait()
        await taker.done.wait()
    assert taker.failure is None
    assert taker.exchanges[0].gone


class Watcher(Component):
    channel = "web"

    def __init__(self) -> None:
        super().__init__()
        self.responses = 0

    @handler("response")
    def _on_response(self, request: Request, response: Response) -> None:
        self.responses += 1


async def test_while_something_watches_responses_every_request_goes_the_usual_way() -> None:
    taker = Taker()
    watcher = Watcher()
    server, transport = serve(taker, watcher)
    async with server:
        response = await Client(transport).get("/native/whole")
    assert response.body == b"usual"
    assert taker.exchanges == []


async def test_a_removed_taker_is_not_asked() -> None:
    taker = Taker()
    server, transport = memory_server(Fallback())
    remove = server.http.take_heads(taker)
    remove()
    async with server:
        assert (await Client(transport).get("/native/whole")).body == b"usual"
    assert taker.exchanges == []


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cuts=st.lists(st.integers(min_value=1, max_value=120), max_size=6))
def test_any_split_of_pipelined_requests_is_answered_the_same(cuts: list[int]) -> None:
    data = (
        b"GET /native/whole HTTP/1.1\r\nHost: a\r\n\r\n"
        b"POST /native/echo HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nxyz"
        b"GET /x HTTP/1.1\r\nHost: a\r\n\r\n"
    )

    async def run() -> list[bytes]:
        taker = Taker()
        server, transport = serve(taker)
        async with server:
            client = Client(transport)
            start = 0
            for cut in sorted(set(cuts)):
                if start < cut < len(data):
                    client.send(data[start:cut])
                    start = cut
            client.send(data[start:])
            responses = await client.responses(3)
        return [r.body for r in responses]

    bodies = asyncio.run(run())
    assert bodies[0] == b"whole GET"
    assert bodies[1] == b"xyz"
    assert bodies[2] == b"usual"
