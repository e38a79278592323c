"""A bounded stop of ``relays serve``, with real processes and real signals.

The first SIGTERM closes the listener as soon as the loop is free, and the process ends
within ``--shutdown-timeout`` plus a margin even when a sync handler blocks the loop; the
same signal again ends it at once, while a different one (a terminal's SIGINT, then a
supervisor's SIGTERM) is the same stop.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from relays_http._lifecycle import EXIT_FORCED
from relays_http.testing import RELAYS_COMMAND

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals"),
]

#: Bound on every wait below (the process is killed past it): never reached when it works.
BOUND = 30.0

APP = """
import asyncio
import time

from relays import Component


class App(Component):
    channel = "web"

    def __init__(self):
        super().__init__()
        self.never = None

    async def request(self, request, response):
        print("handling", request.path, flush=True)
        if request.path == "/block":
            time.sleep(120)  # a sync call that blocks the loop
        elif request.path == "/wait":
            self.never = asyncio.Event()
            await self.never.wait()  # in flight, without blocking the loop
        return "done"
"""


@contextmanager
def serving(
    tmp_path: Path, shutdown_timeout: float
) -> Iterator[tuple[subprocess.Popen[str], int]]:
    (tmp_path / "stopapp.py").write_text(APP)
    process = subprocess.Popen(
        [
            *RELAYS_COMMAND,
            "serve",
            "stopapp:App",
            "--bind",
            "tcp://127.0.0.1:0",
            "--shutdown-timeout",
            str(shutdown_timeout),
        ],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1", "PYTHONPATH": str(tmp_path)},
    )
    killer = threading.Timer(BOUND * 2, process.kill)  # whatever happens, it ends
    killer.start()
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        match = re.search(r"http://127\.0\.0\.1:(\d+)/", line)
        assert match is not None, line
        port = int(match.group(1))
        yield process, port
    finally:
        killer.cancel()
        if process.poll() is None:
            process.kill()
        process.wait(BOUND)
        for stream in (process.stdout, process.stderr):
            if stream is not None:
                stream.close()


def ask(port: int, path: str) -> socket.socket:
    """Send a request and leave it in flight."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=BOUND)
    sock.sendall(b"GET " + path.encode() + b" HTTP/1.1\r\nHost: x\r\n\r\n")
    return sock


def wait_for_line(stream: object, start: str) -> str:
    assert hasattr(stream, "readline")
    while line := stream.readline():
        if line.startswith(start):
            return str(line)
    raise AssertionError(f"no line starting with {start!r}")


def test_sigterm_ends_the_process_within_the_deadline_while_a_handler_blocks(
    tmp_path: Path,
) -> None:
    with serving(tmp_path, shutdown_timeout=0.5) as (process, port), ask(port, "/block"):
        assert wait_for_line(process.stdout, "handling") == "handling /block\n"
        process.send_signal(signal.SIGTERM)
        # The handler blocks for 120 s; the watchdog ends the process 2.5 s after the signal.
        returncode = process.wait(BOUND)
        errors = process.stderr.read() if process.stderr else ""
    assert returncode == EXIT_FORCED
    assert "relays: SIGTERM: stopping within 2.5 s" in errors
    assert "still stopping 2.5 s after SIGTERM: stopping now" in errors


def test_the_listener_closes_first_and_a_second_signal_stops_at_once(tmp_path: Path) -> None:
    with serving(tmp_path, shutdown_timeout=60) as (process, port), ask(port, "/wait"):
        assert wait_for_line(process.stdout, "handling") == "handling /wait\n"
        process.send_signal(signal.SIGTERM)
        wait_for_line(process.stderr, "relays: SIGTERM: stopping within 62 s")
        # The request is still in flight (for up to 60 s): the listener closed already.
        refused = _refused_while_running(process, port)
        process.send_signal(signal.SIGTERM)
        returncode = process.wait(BOUND)
        errors = process.stderr.read() if process.stderr else ""
    assert refused
    assert returncode == EXIT_FORCED
    assert "second SIGTERM: stopping now" in errors


def test_sigterm_after_sigint_is_one_stop_and_sigint_again_stops_at_once(
    tmp_path: Path,
) -> None:
    # Ctrl-C reaches a worker as SIGINT from the terminal, then SIGTERM from its supervisor.
    with serving(tmp_path, shutdown_timeout=60) as (process, port), ask(port, "/wait"):
        assert wait_for_line(process.stdout, "handling") == "handling /wait\n"
        process.send_signal(signal.SIGINT)
        wait_for_line(process.stderr, "relays: SIGINT: stopping within 62 s")
        process.send_signal(signal.SIGTERM)
        wait_for_line(process.stderr, "relays: SIGTERM after SIGINT: already stopping")
        assert process.poll() is None  # still draining the request in flight
        process.send_signal(signal.SIGINT)
        returncode = process.wait(BOUND)
        errors = process.stderr.read() if process.stderr else ""
    assert returncode == EXIT_FORCED
    assert "second SIGINT: stopping now" in errors


def _refused_while_running(process: subprocess.Popen[str], port: int) -> bool:
    """Whether new connections are refused while the process still runs (polled: the
    listener closes when the loop next runs, which nothing outside can wait on)."""
    deadline = time.monotonic() + BOUND
    while time.monotonic() < deadline and process.poll() is None:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=BOUND):
                pass
        except ConnectionRefusedError:
            return process.poll() is None
        time.sleep(0.05)
    return False
