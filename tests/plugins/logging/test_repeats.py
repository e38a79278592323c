"""Repeated errors are written once, then counted per interval: logs cannot be flooded."""

from __future__ import annotations

import logging
import os
import re
import signal
import socket
import subprocess
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

import pytest

from relays import Component, Event
from relays_http.testing import RELAYS_COMMAND
from relays_logging import ErrorLog, RepeatFilter, RepeatLimiter, Verdict
from relays_logging._ratelimit import OTHER_KINDS

from .conftest import Captured


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_first_whole_then_counted_then_one_summary_per_interval() -> None:
    clock = FakeClock()
    limiter = RepeatLimiter(10, clock=clock)
    assert limiter.check("store down") is Verdict.WHOLE
    assert [limiter.check("store down") for _ in range(500)] == [Verdict.COUNTED] * 500
    assert limiter.check("other error") is Verdict.WHOLE  # another kind is not held back
    assert limiter.next_due() == 10.0
    clock.now += 10
    assert limiter.check("store down") is Verdict.SUMMARY
    assert limiter.last_summary == (501, 10.0)
    assert limiter.check("store down") is Verdict.COUNTED
    clock.now += 10
    assert limiter.take_due() == [("store down", 1, 10.0)]
    clock.now += 10  # a whole interval without one: a fresh start
    assert limiter.check("store down") is Verdict.WHOLE
    assert limiter.check("store down") is Verdict.COUNTED
    assert limiter.take_all() == [("store down", 1, 0.0)]
    assert limiter.check("store down") is Verdict.WHOLE


def test_kinds_are_bounded() -> None:
    clock = FakeClock()
    limiter = RepeatLimiter(10, max_kinds=2, clock=clock)
    assert [limiter.check(kind) for kind in "abc"] == [Verdict.WHOLE] * 3
    assert limiter.check("d") is Verdict.COUNTED  # counted with "c" under OTHER_KINDS
    clock.now += 10
    assert limiter.check("e") is Verdict.WHOLE  # quiet kinds were dropped to make room
    assert OTHER_KINDS in dict((kind, count) for kind, count, _ in limiter.take_all())


def test_limits_are_checked() -> None:
    with pytest.raises(ValueError, match="interval"):
        RepeatLimiter(0)
    with pytest.raises(ValueError, match="max_kinds"):
        RepeatLimiter(max_kinds=0)


def test_the_filter_writes_a_repeated_record_once_then_a_count() -> None:
    clock = FakeClock()
    captured = Captured()
    RepeatFilter(captured, interval=10, clock=clock)
    logger = logging.getLogger("test.repeats.filter")
    logger.addHandler(captured)
    logger.propagate = False
    logger.setLevel(logging.DEBUG)
    try:
        for attempt in range(1000):
            logger.error("session store %r failed: %s", "redis", f"refused #{attempt}")
        logger.info("informational lines are never limited")
        logger.info("informational lines are never limited")
        clock.now += 10
        logger.error("session store %r failed: %s", "redis", "refused again")
    finally:
        logger.removeHandler(captured)
    assert captured.lines == [
        "session store 'redis' failed: refused #0",
        "informational lines are never limited",
        "informational lines are never limited",
        "session store 'redis' failed: refused again "
        "[1000 times in the last 10.0 s; the first was logged in full]",
    ]
    assert captured.records[-1].exc_info is None


def test_the_filter_writes_pending_counts_when_flushed() -> None:
    clock = FakeClock()
    captured = Captured()
    repeat_filter = RepeatFilter(captured, interval=10, max_kinds=1, clock=clock)
    logger = logging.getLogger("test.repeats.flush")
    logger.addHandler(captured)
    logger.propagate = False
    try:
        for attempt in range(3):
            logger.warning("store down: %s", attempt)
        logger.error("a kind past the table size")
        logger.error("another kind past the table size")
        repeat_filter.flush()
        repeat_filter.flush()  # nothing left: writes nothing
    finally:
        logger.removeHandler(captured)
    assert captured.lines == [
        "store down: 0",
        "a kind past the table size",  # the first of the shared kind is written whole
        "store down: 2 [2 more times in the last 0.0 s; the first was logged in full]",
        "1 more warnings and errors of other kinds in the last 0.0 s",
    ]


class Failing(Component):
    channel = "app"

    def boom(self, number: int) -> None:
        raise ValueError(f"broken on purpose #{number}")

    def crash(self) -> None:
        raise KeyError("another kind")


async def test_exceptions_in_a_loop_write_one_traceback_and_counts(
    capture: Callable[[str], Captured],
) -> None:
    log = capture("relays.error")
    clock = FakeClock()
    app = Failing() + ErrorLog(repeat_interval=10, clock=clock)
    async with app:
        for number in range(300):
            with pytest.raises(ValueError, match="broken on purpose"):
                await app.fire(Event.create("boom", number), "app")
        with pytest.raises(KeyError):
            await app.fire(Event.create("crash"), "app")
        clock.now += 10
        with pytest.raises(ValueError, match="broken on purpose"):
            await app.fire(Event.create("boom", 300), "app")
    lines = log.lines
    assert len(lines) == 3
    assert lines[0].startswith("unhandled ValueError in ")
    assert "Traceback" in lines[0]
    assert lines[1].startswith("unhandled KeyError in ")
    assert re.fullmatch(
        r"ValueError raised 300 more times in the last 10\.0 s at File .*, in boom "
        r"\(the latest: broken on purpose #300\); the first was logged with its traceback",
        lines[2],
    )


@pytest.mark.integration
def test_a_failing_handler_and_a_store_outage_write_kilobytes_not_megabytes(
    tmp_path: Path,
) -> None:
    (tmp_path / "failing.py").write_text(
        "from relays import Component\n\n"
        "class App(Component):\n"
        "    channel = 'web'\n\n"
        "    def request(self, request, response):\n"
        "        if request.path == '/fail':\n"
        "            raise RuntimeError('boom')\n"
        "        request.session['seen'] = True  # saved: the store is asked\n"
        "        return 'ok'\n"
    )
    with socket.socket() as closed:  # a Redis address where nothing listens
        closed.bind(("127.0.0.1", 0))
        store = f"redis://127.0.0.1:{closed.getsockname()[1]}/0"
    process = subprocess.Popen(
        [
            *RELAYS_COMMAND,
            *("serve", "failing:App", "--bind", "tcp://127.0.0.1:0"),
            *("--session-store", store, "--session-secret", "s" * 32, "--session-preload"),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=tmp_path,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert process.stdout is not None
        match = re.search(r"(http://\S+/)", process.stdout.readline())
        assert match, "the server did not start"
        statuses = []
        for number in range(200):
            path = "fail" if number % 2 else "page"
            try:
                with urllib.request.urlopen(match[1] + path, timeout=10) as response:
                    statuses.append(response.status)
            except urllib.error.HTTPError as error:
                statuses.append(error.code)
        process.send_signal(signal.SIGTERM)
        _, errors = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate(timeout=30)
    assert set(statuses) <= {500, 503}
    assert len(errors) < 20_000, f"{len(errors)} bytes of log for 200 requests"
    store_lines = [line for line in errors.splitlines() if "relays.sessions" in line]
    assert len(store_lines) == 2, store_lines  # the first whole, the count when it stopped
    assert "[99 more times in the last" in store_lines[1]
    assert errors.count("Traceback") == 1
    assert "RuntimeError raised 99 more times" in errors
