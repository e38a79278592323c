"""Fair slots at ``max_connections``: the connections that made the least progress make room.

Idle keep-alive connections go first (the longest idle first), then heads in the making
older than ``shed_after`` (the longest waiting first), then bodies below the minimum rate
(a streamed one measured while its handler waits on it); bodies received fast enough and
requests being answered are never shed, and only when nothing can be shed is a new client
refused.
"""

from __future__ import annotations

import asyncio
import http.client
import socket
from types import SimpleNamespace
from typing import cast

import pytest

from relays import Component
from relays_http import Limits, Request, Response, Server
from relays_http._connection import HTTPConnection
from relays_http._lifecycle import BODY, HANDLING, HEAD, IDLE
from relays_http._server import least_progress
from relays_http.testing import Client, memory_server, parse_responses, serve_in_thread


class Hello(Component):
    channel = "web"

    def __init__(self) -> None:
        super().__init__()
        self.answering = asyncio.Event()
        self.release = asyncio.Event()

    async def request(self, request: Request, response: Response) -> str:
        if request.path == "/slow":
            self.answering.set()
            await self.release.wait()
        return "hello"


def fake(
    phase: int,
    deadline: float = 0.0,
    started: float = 0.0,
    size: int = 0,
    stream: object = None,
) -> HTTPConnection:
    return cast(
        HTTPConnection,
        SimpleNamespace(phase=phase, deadline=deadline, started=started, size=size, stream=stream),
    )


def streamed(waited: float, received: int) -> object:
    """A body streamed to its handler, which waited *waited* seconds on it in all."""
    return SimpleNamespace(reader_waited=lambda now: waited, received=received)


def shed(
    connections: list[HTTPConnection], now: float, count: int = 10, body_rate: float = 0
) -> list[int]:
    chosen = least_progress(
        connections, now, header_timeout=10, shed_after=1, body_rate=body_rate, count=count
    )
    return [connections.index(connection) for connection in chosen]


def test_idle_connections_go_first_the_longest_idle_first() -> None:
    connections = [
        fake(HEAD, deadline=20, started=1),  # a head begun at 1
        fake(IDLE, deadline=8),  # idle since 3 (keep-alive 5)
        fake(IDLE, deadline=6),  # idle since 1: longest
        fake(BODY, deadline=40, started=0.5),
        fake(HANDLING),
    ]
    assert shed(connections, now=10) == [2, 1, 0]


def test_heads_go_the_longest_waiting_first_and_young_ones_are_spared() -> None:
    connections = [
        fake(HEAD, deadline=20, started=5),  # begun at 5
        fake(HEAD, deadline=12),  # nothing sent, connected at 2 (10 s before its deadline)
        fake(HEAD, deadline=30, started=9.5),  # begun half a second ago: spared
        fake(HEAD, deadline=19.5),  # nothing sent, connected half a second ago: spared
    ]
    assert shed(connections, now=10) == [1, 0]


def test_bodies_below_the_minimum_rate_go_last_the_slowest_first() -> None:
    connections = [
        fake(BODY, started=1, size=500),  # 56 B/s
        fake(BODY, started=1, size=100),  # 11 B/s: slowest
        fake(BODY, started=1, size=5000),  # 556 B/s: fast enough
        fake(BODY, started=9.5, size=0),  # begun half a second ago: spared
        fake(HEAD, deadline=12),  # a silent connection comes before any body
        fake(BODY, stream=streamed(9, 90)),  # streamed, 10 B/s while its handler waited
        fake(BODY, stream=streamed(0, 0)),  # its handler never waited on it: not measured
        fake(BODY, stream=streamed(0.5, 0)),  # waited on for half a second: spared
    ]
    assert shed(connections, now=10, body_rate=240) == [4, 5, 1, 0]
    assert shed(connections, now=10, body_rate=0) == [4]  # rate off: bodies never go


def test_a_batch_is_at_most_count_and_bodies_or_answers_never_go() -> None:
    connections = [fake(IDLE, deadline=d) for d in (3, 1, 2)] + [fake(BODY), fake(HANDLING)]
    assert shed(connections, now=10, count=2) == [1, 2]
    assert shed([fake(BODY), fake(HANDLING)], now=10) == []


async def test_a_new_client_at_the_cap_takes_the_slot_of_the_longest_idle() -> None:
    server, transport = memory_server(Hello(), limits=Limits(max_connections=2))
    async with server:
        first, second = Client(transport), Client(transport)
        for client in (first, second):
            assert (await client.get("/")).text == "hello"  # now idle (keep-alive)
        third = Client(transport)
        assert (await third.get("/")).text == "hello"
        await first.wait_closed()  # shed, quietly: the longest idle
        assert not second.closed
        assert (await second.get("/")).text == "hello"


async def test_a_young_head_is_spared_and_the_new_client_gets_503() -> None:
    limits = Limits(max_connections=1, shed_after=60)
    server, transport = memory_server(Hello(), limits=limits)
    async with server:
        slow = Client(transport)
        slow.send(b"GET / HTTP/1.1\r\n")
        late = Client(transport)
        refusal = parse_responses(await late.wait_closed())
        assert [response.status for response in refusal] == [503]
        assert not slow.closed
        slow.send(b"Host: x\r\n\r\n")
        assert (await slow.response()).text == "hello"


async def test_a_body_too_slow_makes_room_at_the_cap() -> None:
    # Any body is too slow for a billion bytes per second; shed_after is a nanosecond.
    limits = Limits(max_connections=1, shed_after=1e-9, min_request_body_rate=1e9)
    server, transport = memory_server(Hello(), limits=limits)
    async with server:
        uploading = Client(transport)
        await uploading.connection.send(
            b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc"
        )  # handled: the body began
        # The loop's clock must move past shed_after since (uvloop's moves once per
        # iteration, by milliseconds): a timer fires only once it has.
        await asyncio.sleep(0.01)
        late = Client(transport)
        refusal = parse_responses(await uploading.wait_closed())
        assert [response.status for response in refusal] == [408]
        assert (await late.get("/")).text == "hello"


class Uploads(Component):
    """Streams ``/upload`` to its handler; says hello to anything else."""

    channel = "web"

    def __init__(self) -> None:
        super().__init__()
        self.reading = asyncio.Event()

    async def request(self, request: Request, response: Response) -> str:
        if request.path == "/upload":
            self.reading.set()  # it waits on the empty stream from here
            async for _chunk in request.stream():
                pass
        return "hello"


async def test_a_streamed_body_too_slow_while_its_handler_waits_makes_room_at_the_cap() -> None:
    far = {"body_timeout": 1000, "header_timeout": 1000, "keep_alive_timeout": 1000}
    limits = Limits(max_connections=1, min_request_body_rate=100, **far)
    app = Uploads()
    server, transport = memory_server(app, limits=limits)
    server.http.stream_bodies("/upload")
    async with server:
        uploading = Client(transport)
        assert (await uploading.get("/")).text == "hello"  # the sweep's clock is taken
        deadlines = server.http._deadlines
        start = deadlines.now()
        deadlines.now = lambda: now  # a fake clock, moved by this test
        now = start
        uploading.send(b"POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n")
        await app.reading.wait()
        now = start + 2  # its handler waited 2 s (past shed_after) and nothing came
        late = Client(transport)
        refusal = parse_responses(await uploading.wait_closed())
        assert [response.status for response in refusal] == [408]
        assert (await late.get("/")).text == "hello"


async def test_bodies_at_the_rate_and_answers_in_progress_are_never_shed() -> None:
    app = Hello()
    limits = Limits(max_connections=2, shed_after=1e-9, min_request_body_rate=0)
    server, transport = memory_server(app, limits=limits)
    async with server:
        uploading, answered = Client(transport), Client(transport)
        uploading.send(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc")
        answered.send_request("GET", "/slow")
        await app.answering.wait()
        late = Client(transport)
        refusal = parse_responses(await late.wait_closed())
        assert [response.status for response in refusal] == [503]
        app.release.set()
        assert (await answered.response()).text == "hello"
        uploading.send(b"defghij")
        assert (await uploading.response()).text == "hello"


@pytest.mark.integration
def test_an_idle_flood_at_the_cap_does_not_lock_out_a_new_client() -> None:
    with serve_in_thread(
        Server("tcp://127.0.0.1:0", limits=Limits(max_connections=10)) + Hello()
    ) as server:
        assert server.port is not None
        idle: list[socket.socket] = []
        try:
            for _ in range(10):  # every slot held by an idle keep-alive connection
                sock = socket.create_connection(("127.0.0.1", server.port), timeout=10)
                idle.append(sock)
                sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
                assert sock.recv(65536).startswith(b"HTTP/1.1 200 ")
            for _ in range(20):  # each new client is answered: an idle one made room
                client = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
                client.request("GET", "/", headers={"Connection": "close"})
                response = client.getresponse()
                assert (response.status, response.read()) == (200, b"hello")
                client.close()
            closed = sum(_closed_by_server(sock) for sock in idle)
            assert closed >= 1
        finally:
            for sock in idle:
                sock.close()


def _closed_by_server(sock: socket.socket) -> bool:
    sock.setblocking(False)
    try:
        return sock.recv(1) == b""
    except BlockingIOError:
        return False  # still open
    except ConnectionError:
        return True


def test_shed_after_must_be_positive() -> None:
    with pytest.raises(ValueError, match="shed_after"):
        Limits(shed_after=0)
