"""``relays serve --workers``: the supervisor, with real processes on loopback."""

from __future__ import annotations

import os
import queue
import re
import signal
import subprocess
import sys
import threading
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO

import pytest

from relays_http._supervisor import EXIT_FORCED, Supervisor
from relays_http.testing import RELAYS_COMMAND

pytestmark = pytest.mark.integration

#: Seconds to wait for any one thing the supervisor says or does.
WITHIN = 15
#: Clients requesting at once, and reloads in a row, in the reload test.
CLIENTS = 4
RELOADS = 3

APP = """\
import asyncio, os, sys
from relays import Component


class App(Component):
    channel = "web"

    async def request(self, request, response):
        if request.path == "/slow":
            print(f"slow request in {os.getpid()}", file=sys.stderr, flush=True)
            await asyncio.sleep(600)
        return str(os.getpid())


class DiesAtOnce(Component):
    channel = "web"

    def ready(self, server, address):
        os._exit(1)
"""


class Served:
    """A running ``relays serve --workers``: its process, URL, and stderr line by line."""

    def __init__(
        self, process: subprocess.Popen[str], announced: str, url: str, lines: queue.Queue[str]
    ) -> None:
        self.process = process
        #: The line printed once every worker listens.
        self.announced = announced
        self.url = url
        self._lines = lines

    def expect(self, pattern: str) -> re.Match[str]:
        """The next stderr line matching *pattern* (earlier lines are passed over)."""
        while True:
            try:
                line = self._lines.get(timeout=WITHIN)
            except queue.Empty:
                raise AssertionError(f"the supervisor never said {pattern!r}") from None
            match = re.search(pattern, line)
            if match:
                return match

    def listening(self, count: int) -> set[int]:
        return {int(self.expect(r"worker (\d+) listening")[1]) for _ in range(count)}

    def fetch(self, path: str = "") -> int:
        with urllib.request.urlopen(self.url + path, timeout=WITHIN) as response:
            return int(response.read())


Start = Callable[..., Served]


def _pump(stream: IO[str], lines: queue.Queue[str]) -> None:
    for line in stream:
        lines.put(line)


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Start]:
    (tmp_path / "pidapp.py").write_text(APP)
    started: list[subprocess.Popen[str]] = []

    def start(target: str = "pidapp:App", *options: str, loop: str = "asyncio") -> Served:
        process = subprocess.Popen(
            [*RELAYS_COMMAND, "serve", target, "--bind", "tcp://127.0.0.1:0", *options],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=tmp_path,
            env={
                **os.environ,
                "PYTHONUNBUFFERED": "1",
                "RELAYS_UVLOOP": "1" if loop == "uvloop" else "0",
            },
        )
        started.append(process)
        lines: queue.Queue[str] = queue.Queue()
        assert process.stderr is not None
        assert process.stdout is not None
        threading.Thread(target=_pump, args=(process.stderr, lines), daemon=True).start()
        url = first = ""
        if target == "pidapp:App":
            first = process.stdout.readline()
            match = re.search(r"(http://\S+/)", first)
            assert match, f"no URL in {first!r}"
            url = match[1]
        return Served(process, first, url, lines)

    yield start
    for process in started:
        if process.poll() is None:
            process.kill()
        process.wait(WITHIN)
        for stream in (process.stdout, process.stderr):
            if stream is not None:
                stream.close()


def gone(pid: int) -> bool:
    """Whether process *pid* has exited (a zombie nobody reaped yet counts as gone)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] == "Z"
    except FileNotFoundError:
        return True


def wait_gone(pids: set[int]) -> None:
    """Wait, bounded, until every process of *pids* has exited."""
    done = threading.Event()
    for _ in range(WITHIN * 20):
        if all(gone(pid) for pid in pids):
            return
        done.wait(0.05)
    raise AssertionError(f"still running: {[pid for pid in pids if not gone(pid)]}")


def test_a_killed_worker_is_logged_and_replaced(serve: Start) -> None:
    served = serve("pidapp:App", "--workers", "2")
    # As docs/howto/deploy.rst shows it:
    assert re.fullmatch(
        rf"relays: serving on http://127\.0\.0\.1:\d+/ with 2 workers "
        rf"\(pid {served.process.pid}; Ctrl\+C to stop, SIGHUP to reload\)\n",
        served.announced,
    )
    first = served.listening(2)
    victim = min(first)
    os.kill(victim, signal.SIGKILL)
    served.expect(rf"worker {victim} died \(killed by SIGKILL\); starting another")
    (replacement,) = served.listening(1)
    assert replacement not in first
    assert served.fetch() in (first - {victim}) | {replacement}
    served.process.send_signal(signal.SIGTERM)
    assert served.process.wait(WITHIN) == 0
    wait_gone(first | {replacement})


@pytest.mark.skipif(not os.path.isdir("/proc"), reason="reads /proc to see processes go")
def test_workers_exit_when_the_supervisor_dies(serve: Start) -> None:
    served = serve("pidapp:App", "--workers", "2")
    workers = served.listening(2)
    served.process.kill()
    served.process.wait(WITHIN)
    wait_gone(workers)


@pytest.mark.parametrize("loop", ["asyncio", "uvloop"])
def test_sighup_reloads_without_dropping_requests(serve: Start, loop: str) -> None:
    # Two races lost requests here: the old workers' listening sockets were closed with
    # connections still queued on them (each SO_REUSEPORT socket has its own queue, which
    # the system resets), and connections accepted just before a worker's listener closed
    # were refused (uvloop and asyncio make the transport a loop turn after the accept).
    if loop == "uvloop":
        pytest.importorskip("uvloop")
    served = serve("pidapp:App", "--workers", "2", loop=loop)
    old = served.listening(2)
    failures: list[BaseException] = []
    answered: list[int] = []
    stop = threading.Event()

    def client() -> None:
        for _ in range(5000):  # bounded; stopped well before
            if stop.is_set():
                return
            try:
                answered.append(served.fetch())
            except OSError as error:
                failures.append(error)

    clients = [threading.Thread(target=client) for _ in range(CLIENTS)]
    for thread in clients:
        thread.start()
    try:
        generation = old
        for _ in range(RELOADS):
            served.process.send_signal(signal.SIGHUP)
            new = served.listening(2)
            stopped = {int(served.expect(r"worker (\d+) stopped")[1]) for _ in generation}
            assert stopped == generation
            wait_gone(generation)
            assert not new & generation
            generation = new
    finally:
        stop.set()
        for thread in clients:
            thread.join(WITHIN)
    assert failures == []
    assert answered
    assert {served.fetch() for _ in range(10)} <= generation
    served.process.send_signal(signal.SIGTERM)
    assert served.process.wait(WITHIN) == 0


def test_sigint_twice_forces_the_stop(serve: Start) -> None:
    served = serve("pidapp:App", "--workers", "2", "--shutdown-timeout", "300")
    served.listening(2)
    outcome: list[BaseException] = []

    def slow() -> None:
        try:
            served.fetch("slow")
        except OSError as error:
            outcome.append(error)

    thread = threading.Thread(target=slow)
    thread.start()
    served.expect(r"slow request in \d+")
    served.process.send_signal(signal.SIGINT)
    served.expect(r"SIGINT: stopping 2 workers gracefully")
    served.process.send_signal(signal.SIGINT)
    assert served.process.wait(WITHIN) == EXIT_FORCED
    thread.join(WITHIN)
    assert outcome, "the slow request was cut off, not answered"


def test_workers_that_die_at_once_are_restarted_ever_more_slowly(
    serve: Start,
) -> None:
    served = serve("pidapp:DiesAtOnce", "--workers", "2")
    delays = [
        float(served.expect(r"died \(exit status 1\); starting another in ([\d.]+) s")[1])
        for _ in range(3)
    ]
    assert delays == [0.1, 0.2, 0.4]
    served.process.send_signal(signal.SIGTERM)
    assert served.process.wait(WITHIN) == 0


def test_a_worker_that_cannot_start_stops_the_supervisor() -> None:
    # In a process of its own: the supervisor forks, and this one has threads.
    code = (
        "import sys\n"
        "from relays_http._supervisor import Supervisor, WORKER_BOOT_FAILED\n"
        "def fails(slot, ready, alive):\n"
        "    return WORKER_BOOT_FAILED\n"
        "supervisor = Supervisor(2, fails, stop_timeout=5)\n"
        "sys.exit(supervisor.run())\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=WITHIN
    )
    assert result.returncode == 1
    assert "could not start" in result.stderr


def test_the_number_of_workers_is_checked() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        Supervisor(0, lambda slot, ready, alive: 0, stop_timeout=5)
