"""Size limits, timeouts (slowloris) and the connection cap, over the in-memory transport."""

from __future__ import annotations

import asyncio
import time

import pytest

from relays import Component
from relays.testing import MemoryTransport
from relays_http import BaseServer, Limits, Request, Response
from relays_http._lifecycle import loop_clock
from relays_http.testing import Client, parse_responses


class Hello(Component):
    channel = "web"

    def request(self, request: Request, response: Response) -> str:
        return "hello"


def serve(**limits: float) -> tuple[BaseServer, MemoryTransport]:
    transport = MemoryTransport(channel="web")
    return BaseServer(transport=transport, limits=Limits(**limits)) + Hello(), transport


def test_limits_refuse_nonsense() -> None:
    with pytest.raises(ValueError, match="spool_threshold"):
        Limits(spool_threshold=0)
    with pytest.raises(ValueError, match="header_timeout"):
        Limits(header_timeout=-1)


async def status_of(transport: MemoryTransport, data: bytes) -> int:
    """The status the server answers raw *data* with, once it has closed the connection."""
    client = Client(transport)
    client.send(data)
    (response,) = parse_responses(await client.wait_closed())
    return response.status


@pytest.mark.parametrize(
    ("limits", "data", "status"),
    [
        ({"max_request_line": 64}, b"GET /" + b"a" * 100 + b" HTTP/1.1\r\n", b"414"),
        ({"max_header_size": 64}, b"GET / HTTP/1.1\r\nX: " + b"a" * 100, b"431"),
        ({"max_header_count": 2}, b"GET / HTTP/1.1\r\nHost: a\r\nA: 1\r\nB: 2\r\n\r\n", b"431"),
        (
            {"max_body_size": 10},
            b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 11\r\n\r\n",
            b"413",
        ),
        (
            {"max_body_size": 10},
            b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
            b"8\r\n12345678\r\n8\r\n12345678\r\n",
            b"413",
        ),
    ],
)
async def test_size_limits(limits: dict[str, float], data: bytes, status: bytes) -> None:
    server, transport = serve(**limits)
    async with server:
        assert await status_of(transport, data) == int(status)


async def test_413_is_sent_before_the_body_and_without_100_continue() -> None:
    server, transport = serve(max_body_size=10)
    async with server:
        client = transport.connect()
        client.send(
            b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 100\r\nExpect: 100-continue\r\n\r\n"
        )
        received = await client.wait(lambda _: client.closed)
    assert received.startswith(b"HTTP/1.1 413 ")
    assert b"100 Continue" not in received


async def test_slow_header_gets_408() -> None:
    server, transport = serve(header_timeout=0.1)
    async with server:
        client = transport.connect()
        loop = asyncio.get_running_loop()
        started = loop.time()
        for byte in b"GET / HTTP/1.1\r\nHost: a\r\n":  # a slowloris: trickle, never finish
            if client.closed:
                break
            client.send(bytes([byte]))
            await asyncio.sleep(0.01)
        received = await client.wait(lambda _: client.closed, timeout=2)
        assert received.startswith(b"HTTP/1.1 408 ")
        assert loop.time() - started < 1.0


async def test_silent_new_connection_gets_408() -> None:
    server, transport = serve(header_timeout=0.1)
    async with server:
        client = transport.connect()
        received = await client.wait(lambda _: client.closed, timeout=2)
    assert received.startswith(b"HTTP/1.1 408 ")


async def test_slow_body_gets_408() -> None:
    server, transport = serve(body_timeout=0.1)
    async with server:
        client = transport.connect()
        client.send(b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\nabc")
        received = await client.wait(lambda _: client.closed, timeout=2)
    assert received.startswith(b"HTTP/1.1 408 ")


async def test_a_body_that_never_starts_gets_408_after_body_timeout() -> None:
    # The head is complete: the body's own deadline runs, not what is left of the head's.
    server, transport = serve(body_timeout=0.1, header_timeout=30)
    async with server:
        client = transport.connect()
        client.send(b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\n")
        received = await client.wait(lambda _: client.closed, timeout=2)
    assert received.startswith(b"HTTP/1.1 408 ")
    assert b"request body" in received


async def test_body_timeout_runs_between_two_reads_not_for_the_whole_body() -> None:
    server, transport = serve(body_timeout=0.3, header_timeout=30)
    async with server:
        client = transport.connect()
        client.send(b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 6\r\n\r\n")
        for byte in b"abcdef":  # 0.6 s in all, never 0.3 s between two reads
            await asyncio.sleep(0.1)
            client.send(bytes([byte]))
        received = await client.wait(lambda data: data.endswith(b"hello"), timeout=2)
    assert received.startswith(b"HTTP/1.1 200 ")


def test_deadlines_read_the_loop_clock_in_its_cheapest_form() -> None:
    loop = asyncio.new_event_loop()
    try:
        assert loop_clock(loop) is time.monotonic  # what BaseEventLoop.time() returns

        class Skewed(type(loop)):  # type: ignore[misc]
            def time(self) -> float:
                return 42.0

        skewed = Skewed()
        try:
            assert loop_clock(skewed)() == 42.0
        finally:
            skewed.close()
    finally:
        loop.close()


async def test_idle_keep_alive_connection_is_closed_quietly() -> None:
    server, transport = serve(keep_alive_timeout=0.1)
    async with server:
        client = transport.connect()
        client.send(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n")
        received = await client.wait(lambda _: client.closed, timeout=2)
    assert received.count(b"HTTP/1.1") == 1
    assert received.startswith(b"HTTP/1.1 200 ")


async def test_slow_client_does_not_hold_up_others() -> None:
    server, transport = serve(header_timeout=5)
    async with server:
        slow = transport.connect()
        slow.send(b"GET / HTTP/1.1\r\nHo")
        fast = transport.connect()
        fast.send(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n")
        received = await fast.wait(lambda data: data.endswith(b"hello"))
        assert received.startswith(b"HTTP/1.1 200 ")
        assert slow.received == b""
