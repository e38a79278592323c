"""The error log: exceptions with tracebacks, rate-limited bad requests, the debugger."""

from __future__ import annotations

import http.client
import logging
import time
from collections.abc import Callable

import pytest

from relays import Component, Event, handler
from relays_http import Server
from relays_logging import ErrorLog, TokenBucket, debug_to_logger


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_bucket_allows_a_burst_then_the_rate() -> None:
    clock = FakeClock()
    bucket = TokenBucket(rate=2, burst=3, clock=clock)
    assert [bucket.allow() for _ in range(5)] == [True, True, True, False, False]
    assert bucket.seconds_until_token() == pytest.approx(0.5)
    clock.now += 0.5
    assert bucket.allow()
    assert not bucket.allow()
    clock.now += 100  # refills to the burst, no further
    assert sum(bucket.allow() for _ in range(10)) == 3
    assert bucket.take_suppressed() == (10, 100.5)
    assert bucket.take_suppressed() == (0, 0.0)


def test_bucket_refuses_bad_settings() -> None:
    with pytest.raises(ValueError, match="rate"):
        TokenBucket(rate=0)
    with pytest.raises(ValueError, match="burst"):
        TokenBucket(burst=0)


def test_bad_requests_are_rate_limited_with_a_summary(capture) -> None:
    log = capture("relays.error")
    clock = FakeClock()
    errors = ErrorLog(rate=1, burst=2, clock=clock)
    results = [
        errors.bad_request(("192.0.2.1", 5000), 400, "bad header\r\nX: injected", b"GET /\x00")
        for _ in range(10)
    ]
    assert results == [True, True] + [False] * 8
    clock.now += 4
    assert errors.bad_request("192.0.2.9", 408, "timed out receiving the request head")
    assert log.lines == [
        'bad request from 192.0.2.1: 400 bad header\\r\\nX: injected "GET /\\x00"',
        'bad request from 192.0.2.1: 400 bad header\\r\\nX: injected "GET /\\x00"',
        "suppressed 8 bad-request lines in the last 4.0 s",
        "bad request from 192.0.2.9: 408 timed out receiving the request head",
    ]
    assert {record.levelno for record in log.records} == {logging.WARNING}


async def test_summary_goes_out_without_further_requests(capture) -> None:
    log = capture("relays.error")
    errors = ErrorLog(rate=1, burst=1, summary_delay=0.01)
    assert errors.bad_request(None, 400, "x")
    assert not errors.bad_request(None, 400, "x")
    import asyncio

    await asyncio.sleep(0.05)
    assert log.lines[0] == "bad request from -: 400 x"
    assert log.lines[1].startswith("suppressed 1 bad-request lines in the last ")


class Failing(Component):
    channel = "app"

    def boom(self) -> None:
        raise ValueError("broken on purpose")


async def test_unhandled_exception_is_logged_with_traceback(capture) -> None:
    log = capture("relays.error")
    kernel = capture("relays")  # the kernel's last-resort log stays quiet
    app = Failing() + ErrorLog()
    async with app:
        value = app.fire(Event.create("boom"), "app")
        with pytest.raises(ValueError, match="broken on purpose"):
            await value
    assert len(log.records) == 1
    record = log.records[0]
    assert record.levelno == logging.ERROR
    message = record.getMessage()
    assert message.startswith("unhandled ValueError in ")
    assert "broken on purpose" in message
    assert "Traceback" in message
    assert kernel.records == []


@pytest.mark.integration
def test_request_handler_failure_is_logged_once_with_the_request(
    serve: Callable[..., Server], capture
) -> None:
    errors = capture("relays.error")
    others = [capture("relays.http"), capture("relays")]
    server = serve(ErrorLog())
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
    connection.request("GET", "/fail?x=%22")
    first = connection.getresponse()
    first.read()
    assert first.status == 500
    connection.request("GET", "/missing")  # an HTTPError is an answer, not a failure
    second = connection.getresponse()
    second.read()
    assert second.status == 404
    connection.close()
    (line,) = errors.wait_for(1)
    assert line.startswith('request handler failed for "GET /fail?x=%22 HTTP/1.1" from 127.0.0.1:')
    assert "RuntimeError: boom" in line
    assert "Traceback" in line
    time.sleep(0.05)
    assert len(errors.records) == 1
    assert [r for other in others for r in other.records if r.levelno >= logging.ERROR] == []


async def test_debugger_routed_to_a_logger(capture) -> None:
    log = capture("relays.debug")

    class Pinger(Component):
        @handler("ping")
        def ping(self) -> str:
            return "pong"

    app = Pinger()
    debugger = debug_to_logger(app, ignore_events=["registered"])
    assert debugger.parent is app
    async with app:
        assert await app.fire(Event.create("ping")) == "pong"
    assert any("ping" in line for line in log.lines)
    assert {record.levelno for record in log.records} == {logging.DEBUG}
