"""What the benchmark scripts share: pinned server processes, wrk runs, best-of rounds.

Theory of operation. A benchmark that compares servers runs each in a process of its own,
pinned with ``taskset`` to one CPU, and the load generator (wrk) pinned to another, so the
two never take turns on one core. :class:`ServerProcess` starts a server that way, waits
until its port accepts a connection (or reads the port from the server's first line of
output), and stops it by its process id: never by name, since other people's servers
may run the same command on the same machine. :func:`run_wrk` runs one load and reads
wrk's report, and around it the server's CPU time from ``/proc``: on a shared machine CPU
per request moves much less than requests/s. :func:`rounds` takes the sides in turns
(one of each, then again) so a burst of load from elsewhere hits every side alike; the
callers keep the best of the rounds.

Instruction counts under valgrind are :mod:`instructions`'s, not repeated here.

This module imports nothing that imports ``http``: a script of ``benchmarks/`` imports
it while its own folder, with ``http.py`` in it, is still first on ``sys.path``, then
calls :func:`unshadow_standard_library`.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import IO, TypeVar

HERE = os.path.dirname(os.path.abspath(__file__))
#: Seconds a server may take to listen before it counts as failed to start.
START_TIMEOUT = 15.0
#: Seconds a server may take to exit after SIGTERM before it is killed.
STOP_TIMEOUT = 10.0
_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3}
_SIZES = {"B": 1, "KB": 1024, "MB": 1024**2, "GB": 1024**3, "TB": 1024**4}

Side = TypeVar("Side")
Outcome = TypeVar("Outcome")


def unshadow_standard_library() -> None:
    """Take ``benchmarks/`` off ``sys.path``: its ``http.py`` would hide the standard
    library's ``http`` package from everything imported after (aiohttp, relays_http)."""
    sys.path[:] = [path for path in sys.path if os.path.abspath(path or ".") != HERE]


def free_port() -> int:
    """A TCP port on loopback that nothing listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def server_and_client_cpus() -> tuple[int | None, int | None]:
    """The first two CPUs this process may use: one for servers, one for the load;
    ``(None, None)`` on a machine with one (then nothing is pinned)."""
    cpus = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
    return (cpus[0], cpus[1]) if len(cpus) >= 2 else (None, None)


def pinned(command: Sequence[str], cpu: int | None) -> list[str]:
    """*command* run on *cpu* only (``taskset``), or as it is without a CPU or taskset."""
    if cpu is None or shutil.which("taskset") is None:
        return list(command)
    return ["taskset", "-c", str(cpu), *command]


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of process *pid* (all its threads), or NaN off Linux."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
            fields = stat.read().rpartition(")")[2].split()
    except OSError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / _TICKS


class ServerDidNotStart(RuntimeError):
    """A server process exited, or did not listen within :data:`START_TIMEOUT`."""


class ServerProcess:
    """One server in a process of its own, pinned to *cpu*; stopped by its process id.

    With *port*, the server is told its port on its command line and counts as started
    once the port accepts a connection; with ``port=None``, it chooses one and prints it
    as its first line of output.
    """

    def __init__(
        self, name: str, command: Sequence[str], *, port: int | None, cpu: int | None = None
    ) -> None:
        self.name = name
        self.process = subprocess.Popen(
            pinned(command, cpu),
            stdout=subprocess.DEVNULL if port is not None else subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        self.port = port if port is not None else self._read_port()

    @property
    def pid(self) -> int:
        return self.process.pid

    def _read_port(self) -> int:
        assert self.process.stdout is not None
        line = self.process.stdout.readline().strip()
        if not line.isdigit():
            self.stop()
            raise ServerDidNotStart(f"{self.name} did not print its port: {self.errors()}")
        return int(line)

    def wait_listening(self, timeout: float = START_TIMEOUT) -> None:
        """Return once the port accepts a connection; raise :class:`ServerDidNotStart`."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise ServerDidNotStart(f"{self.name} exited: {self.errors()}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                time.sleep(0.05)
        raise ServerDidNotStart(f"{self.name} did not listen within {timeout:g} s")

    def errors(self) -> str:
        """The end of what an exited server wrote on stderr ('' while it runs)."""
        if self.process.poll() is None or self.process.stderr is None:
            return ""
        return self.process.stderr.read().decode(errors="replace").strip()[-2000:]

    def stop(self) -> None:
        """SIGTERM to our process, SIGKILL if it lingers; then close its pipes."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        pipes: Iterable[IO[bytes] | None] = (self.process.stdout, self.process.stderr)
        for pipe in pipes:
            if pipe is not None:
                pipe.close()

    def __enter__(self) -> ServerProcess:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def start_all(
    servers: Iterable[Callable[[], ServerProcess]],
) -> tuple[list[ServerProcess], list[ServerProcess]]:
    """Start every server, then wait for each: ``(ready, all started)``. A server that
    fails is reported on stderr and left out of *ready*; the caller stops *all started*."""
    started = [start() for start in servers]
    ready = []
    for server in started:
        try:
            server.wait_listening()
        except ServerDidNotStart as error:
            print(f"  {error}", file=sys.stderr)
            continue
        ready.append(server)
    return ready, started


@dataclass(frozen=True)
class WrkResult:
    """What one wrk run measured; CPU is the server's, per request, from ``/proc``."""

    rate: float  #: requests/s
    requests: int
    errors: int  #: non-2xx/3xx answers and socket errors
    p99_ms: float  #: NaN unless the run asked for latency
    megabytes_per_second: float
    cpu_us_per_request: float  #: NaN without a server pid, or off Linux


def run_wrk(
    url: str,
    *,
    seconds: float,
    connections: int,
    cpu: int | None = None,
    server_pid: int | None = None,
    headers: Sequence[str] = (),
    latency: bool = False,
    timeout: str = "10s",
) -> WrkResult:
    """One ``wrk -t1`` run against *url*, pinned to *cpu*, with the server's CPU read
    from ``/proc`` before and after when *server_pid* is given."""
    command = ["wrk", "-t1", f"-c{connections}", f"-d{max(1, round(seconds))}s"]
    command += ["--timeout", timeout]
    if latency:
        command.append("--latency")
    for header in headers:
        command += ["-H", header]
    command.append(url)
    before = cpu_seconds(server_pid) if server_pid is not None else float("nan")
    output = subprocess.run(
        pinned(command, cpu), capture_output=True, text=True, check=True
    ).stdout
    used = cpu_seconds(server_pid) - before if server_pid is not None else float("nan")
    rate = re.search(r"Requests/sec:\s+([\d.]+)", output)
    total = re.search(r"(\d+) requests in", output)
    if rate is None or total is None:
        raise RuntimeError(f"cannot read wrk's output:\n{output}")
    requests = int(total.group(1))
    p99 = float("nan")
    match = re.search(r"99%\s+([\d.]+)(us|ms|s)", output)
    if match:
        p99 = float(match.group(1)) * _UNITS[match.group(2)]
    transfer = re.search(r"Transfer/sec:\s+([\d.]+)(B|KB|MB|GB|TB)", output)
    megabytes = float(transfer.group(1)) * _SIZES[transfer.group(2)] / 1e6 if transfer else 0.0
    errors = 0
    for pattern in (r"Non-2xx or 3xx responses: (\d+)", r"Socket errors: .*?(\d+)"):
        found = re.search(pattern, output)
        if found:
            errors += int(found.group(1))
    return WrkResult(
        rate=float(rate.group(1)),
        requests=requests,
        errors=errors,
        p99_ms=p99,
        megabytes_per_second=megabytes,
        cpu_us_per_request=used / requests * 1e6 if requests else float("nan"),
    )


def rounds(
    repeat: int, sides: Sequence[Side], measure: Callable[[int, Side], Outcome]
) -> dict[Side, list[Outcome]]:
    """*measure* each side once per round, in turns, for *repeat* rounds: every outcome,
    per side, in order. Callers keep the best of them, measure by measure (the highest
    rate, the least CPU), so load from elsewhere only ever makes a side look slower."""
    outcomes: dict[Side, list[Outcome]] = {side: [] for side in sides}
    for number in range(1, repeat + 1):
        for side in sides:
            outcomes[side].append(measure(number, side))
    return outcomes
