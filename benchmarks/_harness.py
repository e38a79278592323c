"""What the benchmark scripts share: pinned server processes, wrk runs, best-of rounds.

Theory of operation. A benchmark that compares servers runs each in a process of its own,
pinned with ``taskset`` to one CPU, and the load generator (wrk, or a client process of
the script's own) pinned to another, so the two never take turns on one core.
:class:`ServerProcess` starts a server that way and knows when it is ready, in one of
three ways the server chooses: its port accepts a connection, it prints the port it chose
as its first line, or it prints a line of its own (``ready``) once it is (a server that
must first reach a broker). It is stopped by its process id: never by name, since other
people's servers may run the same command on the same machine. A server that takes
commands reads them as lines on its standard input and answers each with a line
(:meth:`ServerProcess.ask`). What a server writes on stderr goes to a file, not a pipe,
so a server that logs every dropped connection never blocks on a full pipe.

:func:`run_client` runs one pinned client process and reads the server's CPU time from
``/proc`` around it: on a shared machine CPU per request moves much less than
requests/s. :func:`run_wrk` is that with wrk, its report read into a :class:`WrkResult`.
:func:`rounds` takes the sides in turns (one of each, then again) so a burst of load from
elsewhere hits every side alike; the callers keep the best of the rounds.

:func:`ask_closing` is the close-mode client of the instruction counts (a server under
valgrind is far too slow for wrk): plain requests, one connection each, one after
another, each answer checked. :func:`build_c_floor` compiles ``http_floor.c``, the C
server that stands for the operating system's own cost per request: the most a load
generator can drive on this machine, shown next to the servers a script compares.

Instruction counts under valgrind are :mod:`instructions`'s, not repeated here.

This module imports nothing that imports ``http``: a script of ``benchmarks/`` imports
it while its own folder, with ``http.py`` in it, is still first on ``sys.path``, then
calls :func:`unshadow_standard_library`.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import os
import re
import select
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import IO, Any, TypeVar

HERE = os.path.dirname(os.path.abspath(__file__))
#: Seconds a server may take to be ready before it counts as failed to start: long, since
#: a loaded machine can take tens of seconds to import a server's libraries, and a server
#: that fails exits, which is seen at once.
START_TIMEOUT = 60.0
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


def pin_this_process(cpu: int | None) -> None:
    """Run this process (a child a script started itself) on *cpu* only, where it can."""
    if cpu is not None and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {cpu})


def rss_bytes(pid: int) -> int:
    """Resident memory of *pid* and of its children (gunicorn's workers), in bytes; 0 off
    Linux or once it has exited."""
    pids = [pid]
    try:
        with open(f"/proc/{pid}/task/{pid}/children", encoding="ascii") as children:
            pids += [int(child) for child in children.read().split()]
    except OSError:
        pass
    total = 0
    for each in pids:
        try:
            with open(f"/proc/{each}/status", encoding="ascii") as status:
                for line in status:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1]) * 1024
        except OSError:
            pass
    return total


def _descendants(pid: int) -> list[int]:
    """*pid* and every process below it (a server's workers, and theirs)."""
    found, queue = [], [pid]
    while queue:
        current = queue.pop()
        found.append(current)
        try:
            with open(f"/proc/{current}/task/{current}/children", encoding="ascii") as children:
                queue.extend(int(child) for child in children.read().split())
        except OSError:
            pass
    return found


def cpu_times(pid: int, *, tree: bool = False) -> tuple[float, float]:
    """User and system CPU seconds of process *pid* (all its threads), and with *tree* of
    every process below it too (servers that fork workers); NaNs off Linux."""
    user = system = 0.0
    for index, each in enumerate(_descendants(pid) if tree else [pid]):
        try:
            with open(f"/proc/{each}/stat", encoding="ascii") as stat:
                fields = stat.read().rpartition(")")[2].split()
        except OSError:
            if index == 0:
                return float("nan"), float("nan")
            continue  # a worker that exited in between
        user += int(fields[11]) / _TICKS
        system += int(fields[12]) / _TICKS
    return user, system


def cpu_seconds(pid: int, *, tree: bool = False) -> float:
    """User + system CPU time of process *pid* (all its threads), with *tree* of every
    process below it too; NaN off Linux."""
    return sum(cpu_times(pid, tree=tree))


#: A request that asks the server to close the connection after its answer.
CLOSE_REQUEST = b"GET / HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n"


class UnexpectedAnswer(RuntimeError):
    """A server answered :func:`ask_closing` with something other than a 200 holding
    what was expected: the count it was measuring would not be of the request meant."""


def ask_closing(
    port: int, count: int, *, expect: bytes = b"", request: bytes = CLOSE_REQUEST
) -> None:
    """Send *request* *count* times to 127.0.0.1:*port*, one connection each, one after
    another, reading each answer to the server's close; raise :class:`UnexpectedAnswer`
    unless every answer is a ``200`` holding *expect*."""
    for _ in range(count):
        with socket.create_connection(("127.0.0.1", port)) as sock:
            sock.sendall(request)
            answer = b""
            while chunk := sock.recv(65536):
                answer += chunk
        if not answer.startswith(b"HTTP/1.1 200") or expect not in answer:
            raise UnexpectedAnswer(f"unexpected answer from port {port}: {answer[:200]!r}")


def find_compiler() -> str | None:
    """``$CC`` when it is set (and then only it, as make does), else cc, gcc or clang."""
    if os.environ.get("CC"):
        return shutil.which(os.environ["CC"])
    return next(filter(None, map(shutil.which, ("cc", "gcc", "clang"))), None)


def build_c_floor(directory: str) -> str:
    """Compile ``http_floor.c`` into *directory*; the program's path (run it with the
    port as its one argument: it serves until SIGTERM). ``RuntimeError`` without a C
    compiler."""
    compiler = find_compiler()
    if compiler is None:
        raise RuntimeError("the C floor needs a C compiler: apt-get install gcc (or set CC)")
    program = os.path.join(directory, "http_floor")
    source = os.path.join(HERE, "http_floor.c")
    subprocess.run([compiler, "-O2", "-Wall", "-o", program, source], check=True)
    return program


def wait_for_port(port: int, process: subprocess.Popen[Any], timeout: float) -> bool:
    """Whether *port* accepts a connection within *timeout* seconds; False at once when
    *process* (the server) exits first. For a server started some other way than
    :class:`ServerProcess` (under valgrind or strace, in a group of its own)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return False
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return True
        except OSError:
            time.sleep(0.05)
    return False


class ServerDidNotStart(RuntimeError):
    """A server process exited, or was not ready within :data:`START_TIMEOUT`."""


class ServerProcess:
    """One server in a process of its own, pinned to *cpu*; stopped by its process id.

    How it says it is ready is the server's choice:

    - with *port* alone, the server is told its port on its command line and is ready
      once the port accepts a connection;
    - with ``port=None``, it chooses one and prints it as its first line of output (read
      here, before the constructor returns);
    - with *ready_line*, it prints that line once it is ready; *port*, if given, is only
      remembered (a server that listens on nothing, or not before it has done more).
    """

    def __init__(
        self,
        name: str,
        command: Sequence[str],
        *,
        port: int | None,
        cpu: int | None = None,
        ready_line: str | None = None,
    ) -> None:
        self.name = name
        self._ready_line = ready_line
        self._pending = b""  # what the server printed past the last whole line read
        self._log = tempfile.TemporaryFile()  # noqa: SIM115 - closed in stop()
        prints = port is None or ready_line is not None
        self.process = subprocess.Popen(
            pinned(command, cpu),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE if prints else subprocess.DEVNULL,
            stderr=self._log,
        )
        self._port = port
        if port is None and ready_line is None:
            self._port = self._read_port()

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def port(self) -> int:
        """The port the server listens on (given, or the one it printed)."""
        if self._port is None:
            raise RuntimeError(f"{self.name} was started without a port")
        return self._port

    def _read_port(self) -> int:
        try:
            line = self.read_line(START_TIMEOUT)
        except ServerDidNotStart:
            self.stop()
            raise
        if not line.isdigit():
            self.stop()
            raise ServerDidNotStart(f"{self.name} did not print its port: {line!r}")
        return int(line)

    def read_line(self, timeout: float) -> str:
        """The next line the server prints; :class:`ServerDidNotStart` if none comes
        within *timeout* seconds or its output ends."""
        assert self.process.stdout is not None, "this server's output is not read"
        descriptor = self.process.stdout.fileno()
        deadline = time.monotonic() + timeout
        while b"\n" not in self._pending:
            remaining = deadline - time.monotonic()
            readable = select.select([descriptor], [], [], max(0.0, remaining))[0]
            if not readable:
                raise ServerDidNotStart(f"{self.name} printed no line within {timeout:g} s")
            chunk = os.read(descriptor, 65536)
            if not chunk:
                self.process.wait(STOP_TIMEOUT)
                raise ServerDidNotStart(f"{self.name} exited: {self.errors()}")
            self._pending += chunk
        line, _, self._pending = self._pending.partition(b"\n")
        return line.decode(errors="replace").strip()

    def ask(self, line: str, timeout: float = START_TIMEOUT) -> str:
        """Write *line* to the server's standard input and return the line it answers."""
        assert self.process.stdin is not None
        self.process.stdin.write(line.encode() + b"\n")
        self.process.stdin.flush()
        return self.read_line(timeout)

    def wait_listening(self, timeout: float = START_TIMEOUT) -> None:
        """Return once the server is ready; raise :class:`ServerDidNotStart`."""
        if self._ready_line is not None:
            line = self.read_line(timeout)
            if line != self._ready_line:
                raise ServerDidNotStart(f"{self.name} printed {line!r}, not {self._ready_line!r}")
            return
        if wait_for_port(self.port, self.process, timeout):
            return
        if self.process.poll() is not None:
            raise ServerDidNotStart(f"{self.name} exited: {self.errors()}")
        raise ServerDidNotStart(f"{self.name} did not listen within {timeout:g} s")

    def errors(self) -> str:
        """The end of what the server has written on stderr."""
        if self._log.closed:
            return ""
        self._log.seek(0)
        return self._log.read().decode(errors="replace").strip()[-2000:]

    def stop(self, *, grace: float = STOP_TIMEOUT) -> None:
        """SIGTERM to our process, SIGKILL if it lingers *grace* seconds (at once with
        ``grace=0``: for servers whose graceful stop waits on the clients a benchmark
        holds open); then close its pipes and its stderr file."""
        if self.process.poll() is None:
            if grace > 0:
                self.process.terminate()
            try:
                self.process.wait(grace)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        pipes: Iterable[IO[bytes] | None] = (self.process.stdin, self.process.stdout)
        for pipe in pipes:
            if pipe is not None:
                # stdin with unread bytes of a server now gone: BrokenPipeError
                with contextlib.suppress(BrokenPipeError):
                    pipe.close()
        self._log.close()

    def __enter__(self) -> ServerProcess:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


@contextlib.contextmanager
def running(servers: Iterable[Callable[[], ServerProcess]]) -> Iterator[list[ServerProcess]]:
    """:func:`start_all` as a ``with`` block: the servers that are ready inside it, every
    server started stopped when it ends, however it ends."""
    ready, started = start_all(servers)
    try:
        yield ready
    finally:
        for server in started:
            server.stop()


def choose_installed(
    wanted: Iterable[str], known: Sequence[str], installed: Callable[[str], bool]
) -> list[str]:
    """The servers of *wanted* that are *known* and *installed*, in order; each other one
    said on stderr as skipped."""
    chosen = []
    for kind in wanted:
        if kind in known and installed(kind):
            chosen.append(kind)
        else:
            print(f"skipping {kind}: not installed", file=sys.stderr)
    return chosen


def choose_servers(
    parser: argparse.ArgumentParser,
    only: str | None,
    *,
    known: Sequence[str],
    default: Sequence[str],
    installed: Callable[[str], bool],
    always: str = "relays",
) -> list[str]:
    """The servers ``--only`` names (*default* without it), *always* first among them
    (the one every ratio is against): a name that is not *known* is a usage error, one
    that is not installed is said on stderr and skipped (:func:`choose_installed`)."""
    kinds = [kind.strip() for kind in only.split(",")] if only else list(default)
    unknown = [kind for kind in kinds if kind not in known]
    if unknown:
        parser.error(f"unknown servers {unknown}; choose from {', '.join(known)}")
    if always not in kinds:
        kinds.insert(0, always)
    return choose_installed(kinds, known, installed)


#: nginx, where ``PATH`` or the distribution puts it; None when it is not installed.
NGINX = shutil.which("nginx") or ("/usr/sbin/nginx" if os.path.exists("/usr/sbin/nginx") else None)
#: What every nginx of the scripts shares: in the foreground, one process, every file it
#: writes under the scratch *prefix* (none in the system's folders), no access log.
_NGINX_CONF = """
daemon off;
master_process off;
worker_processes 1;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    client_body_temp_path {prefix}/body;
    proxy_temp_path {prefix}/proxy;
    fastcgi_temp_path {prefix}/fastcgi;
    uwsgi_temp_path {prefix}/uwsgi;
    scgi_temp_path {prefix}/scgi;
{http}
}}
"""


def nginx_server(prefix: str, port: int, http: str, *, cpu: int | None = None) -> ServerProcess:
    """nginx on *port* with *http* (its ``http {}`` directives, ``server {}`` included)
    added to the shared configuration, written with every other file under *prefix*."""
    if NGINX is None:
        raise ServerDidNotStart("nginx is not installed: apt-get install nginx")
    os.makedirs(prefix, exist_ok=True)
    config = os.path.join(prefix, "nginx.conf")
    with open(config, "w") as file:
        file.write(_NGINX_CONF.format(prefix=prefix, http=http))
    command = [NGINX, "-p", prefix, "-c", config, "-e", os.path.join(prefix, "error.log")]
    return ServerProcess("nginx", command, port=port, cpu=cpu)


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
    #: The system part of ``cpu_us_per_request``: the kernel's accept, reads, writes and
    #: close, which every server on the same sockets pays alike.
    system_us_per_request: float = float("nan")

    def ratios(self, base: WrkResult | None) -> tuple[float, float]:
        """``(base's rate / this rate, this CPU / base's CPU)``, as the tables show a peer
        against relays (*base*): above 1.0x, relays serves more, or in less CPU. NaNs
        without a base or a figure to divide by."""
        nan = float("nan")
        if base is None:
            return nan, nan
        rate = base.rate / self.rate if self.rate else nan
        cpu = self.cpu_us_per_request / base.cpu_us_per_request if base.cpu_us_per_request else nan
        return rate, cpu

    def best(self, other: WrkResult) -> WrkResult:
        """The faster run's figures with the least CPU of the two: load from elsewhere
        only ever makes a run slower, so the best of rounds is each figure's best."""
        faster = self if self.rate >= other.rate else other
        thriftier = min((self, other), key=lambda run: run.cpu_us_per_request)
        if thriftier.cpu_us_per_request != thriftier.cpu_us_per_request:  # NaN
            thriftier = faster
        return dataclasses.replace(
            faster,
            cpu_us_per_request=thriftier.cpu_us_per_request,
            system_us_per_request=thriftier.system_us_per_request,
        )


@dataclass(frozen=True)
class ClientRun:
    """What one client process printed, and the server CPU time it cost."""

    output: str
    server_cpu_seconds: float  #: NaN without a server pid, or off Linux
    #: The system part of ``server_cpu_seconds``.
    server_system_seconds: float = float("nan")

    def figures(self) -> Any:
        """The last line of the output, read as JSON: how a client process of a script
        reports its figures."""
        return json.loads(self.output.strip().splitlines()[-1])


def run_client(
    command: Sequence[str],
    *,
    cpu: int | None = None,
    server_pid: int | None = None,
    server_tree: bool = False,
    timeout: float | None = None,
) -> ClientRun:
    """Run *command* (a load generator, or a client a script measures) pinned to *cpu*,
    with the server's CPU time read from ``/proc`` before and after when *server_pid* is
    given. A client that fails or outlives *timeout* raises
    :class:`subprocess.CalledProcessError` or :class:`subprocess.TimeoutExpired`, with
    what it wrote on stderr. The client runs in a process group of its own, stopped
    whole on a timeout: processes it started (a worker child) go with it. With
    *server_tree*, the server's CPU time counts its worker processes too."""
    nothing = (float("nan"), float("nan"))
    before = cpu_times(server_pid, tree=server_tree) if server_pid is not None else nothing
    with subprocess.Popen(
        pinned(command, cpu),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    ) as client:
        try:
            output, errors = client.communicate(timeout=timeout)
        except subprocess.TimeoutExpired as expired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(client.pid, 9)  # SIGKILL, by the group we made
            expired.stdout, expired.stderr = client.communicate()
            raise
    if client.returncode:
        raise subprocess.CalledProcessError(client.returncode, command, output, errors)
    after = cpu_times(server_pid, tree=server_tree) if server_pid is not None else nothing
    user, system = after[0] - before[0], after[1] - before[1]
    return ClientRun(output, user + system, system)


def run_wrk(
    url: str,
    *,
    seconds: float,
    connections: int,
    cpu: int | None = None,
    server_pid: int | None = None,
    server_tree: bool = False,
    headers: Sequence[str] = (),
    latency: bool = False,
    timeout: str = "10s",
) -> WrkResult:
    """One ``wrk -t1`` run against *url*, pinned to *cpu*, with the server's CPU read
    from ``/proc`` before and after when *server_pid* is given (with *server_tree*, its
    worker processes' too)."""
    command = ["wrk", "-t1", f"-c{connections}", f"-d{max(1, round(seconds))}s"]
    command += ["--timeout", timeout]
    if latency:
        command.append("--latency")
    for header in headers:
        command += ["-H", header]
    command.append(url)
    run = run_client(command, cpu=cpu, server_pid=server_pid, server_tree=server_tree)
    output, used = run.output, run.server_cpu_seconds
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
        system_us_per_request=(
            run.server_system_seconds / requests * 1e6 if requests else float("nan")
        ),
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


#: The two ways wrk can use its connections: reused, or one request each.
CONNECTION_MODES = ("keep-alive", "close")


def add_wrk_arguments(parser: argparse.ArgumentParser, *, only_help: str) -> None:
    """The options of a script that runs :func:`wrk_modes`; *only_help* says which
    servers ``--only`` may name. Read them with :func:`wrk_options`."""
    parser.add_argument("--seconds", type=float, default=5.0, help="length of each wrk run")
    parser.add_argument("--connections", type=int, default=50, help="wrk connections")
    parser.add_argument("--only", help=only_help)
    parser.add_argument("--modes", default="keep-alive,close", help="keep-alive, close or both")
    parser.add_argument("--repeat", type=int, default=3, help="rounds; the best one counts")
    parser.add_argument("--quick", action="store_true", help="one round of 1 s runs: a smoke test")
    parser.add_argument("--server-cpu", type=int, default=0, help="CPU the server is pinned to")
    parser.add_argument("--client-cpu", type=int, default=1, help="CPU wrk is pinned to")


@dataclass(frozen=True)
class WrkOptions:
    """What :func:`add_wrk_arguments`' options ask :func:`wrk_modes` for."""

    modes: tuple[str, ...]
    seconds: float
    repeat: int
    connections: int
    server_cpu: int | None
    client_cpu: int | None


def wrk_options(args: argparse.Namespace) -> WrkOptions:
    """:func:`add_wrk_arguments`' options as given: ``--quick`` is one round of 1 s runs,
    and on a machine with one CPU nothing is pinned."""
    seconds, repeat = (1.0, 1) if args.quick else (args.seconds, args.repeat)
    server_cpu, client_cpu = args.server_cpu, args.client_cpu
    if (os.cpu_count() or 1) < 2:
        server_cpu = client_cpu = None
    modes = tuple(mode.strip() for mode in args.modes.split(",") if mode.strip())
    return WrkOptions(modes, seconds, repeat, args.connections, server_cpu, client_cpu)


def wrk_modes(
    servers: Sequence[ServerProcess],
    options: WrkOptions,
    *,
    server_tree: bool = False,
    progress: Callable[[int, ServerProcess, str, WrkResult], None] | None = None,
) -> dict[str, dict[str, WrkResult]]:
    """wrk against ``/`` of every server in every mode of :data:`CONNECTION_MODES` asked
    for (``close`` sends ``Connection: close``): a 1 s warm-up each, then *repeat*
    :func:`rounds`; the best of them (:meth:`WrkResult.best`) by server name and mode.
    *progress* sees each measured run (the round's number, the server, the mode)."""

    def run(server: ServerProcess, mode: str, length: float) -> WrkResult:
        return run_wrk(
            f"http://127.0.0.1:{server.port}/",
            seconds=length,
            connections=options.connections,
            cpu=options.client_cpu,
            server_pid=server.pid,
            server_tree=server_tree,
            headers=["Connection: close"] if mode == "close" else [],
            latency=True,
            timeout="5s",
        )

    def measure(number: int, server: ServerProcess) -> dict[str, WrkResult]:
        results = {}
        for mode in options.modes:
            results[mode] = result = run(server, mode, options.seconds)
            if progress is not None:
                progress(number, server, mode, result)
        return results

    for server in servers:  # warm up: imports, caches
        for mode in options.modes:
            run(server, mode, 1)
    best: dict[str, dict[str, WrkResult]] = {}
    for server, outcomes in rounds(options.repeat, servers, measure).items():
        by_mode = best[server.name] = {}
        for outcome in outcomes:
            for mode, result in outcome.items():
                by_mode[mode] = by_mode[mode].best(result) if mode in by_mode else result
    return best
