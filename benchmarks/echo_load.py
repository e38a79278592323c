"""The load generators of ``echo.py``: the C client's driver, and two in Python.

``--client c`` (the default) runs ``echo_client.c``, compiled at each run; echo.py's
docstring says why the load is generated in C and how its counted window is fixed.
``--client poll`` is the same design in Python, the fallback when there is no C
compiler; ``--client uvloop`` uses asyncio protocols that sleep between echoes.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import glob
import os
import resource
import select
import shutil
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

C_CLIENT = Path(__file__).with_name("echo_client.c")
SERVER_CPU, CLIENT_CPU = 0, 1


@dataclasses.dataclass
class Sample:
    """One measure of one server."""

    rate: float  # messages echoed per second
    cpu: float  # server CPU seconds per message
    server_busy: float  # server CPU seconds per second
    client_busy: float  # load generator CPU seconds per second
    server_idle: float  # share of the time the server neither ran nor waited for a CPU


Load = Callable[[int, int, int, int, float, float], Sample]
CLIENTS = ("c", "poll", "uvloop")


def choose_load(client: str, directory: str) -> tuple[Load, str]:
    """The load generator *client* names and a line that says which one runs."""
    if client == "uvloop":
        return uvloop_load, "uvloop: asyncio protocols on uvloop, in this process"
    if client == "c":
        program, note = build_c_client(directory)
        if program is not None:
            return functools.partial(c_load, program), note
        print(f"echo.py: {note}: falling back to --client poll", flush=True)
    return poll_load, "poll: Python, epoll in this process"


def c_load(
    program: str, pid: int, port: int, size: int, connections: int, warm_up: float, seconds: float
) -> Sample:
    """The default load generator: *program*, ``echo_client.c`` compiled (``--client c``).

    It warms up, says ``ready`` and runs on until we answer; the server's CPU is read
    between its ``ready`` and our answer, and again as soon as it prints its counts (it
    sends nothing more until we close its stdin), so only the counted window is billed.
    """
    cpu = CLIENT_CPU if pinning() else -1
    command = [program, str(port), str(size), str(connections), repr(warm_up), repr(seconds)]
    pipe = subprocess.PIPE
    # leaving the with block closes the pipes and waits: closing stdin lets it end
    with subprocess.Popen([*command, str(cpu)], stdin=pipe, stdout=pipe, stderr=pipe) as client:
        assert client.stdin is not None
        assert client.stdout is not None
        if client.stdout.readline() != b"ready\n":
            raise _client_failed(client)
        start, (start_cpu, start_waiting) = time.perf_counter(), process_cpu(pid)
        client.stdin.write(b"start\n")
        client.stdin.flush()
        line = client.stdout.readline().decode()
        (end_cpu, end_waiting), end = process_cpu(pid), time.perf_counter()
        if not line.startswith("done "):
            raise _client_failed(client)
    counts = {key: float(value) for key, value in (field.split("=") for field in line.split()[1:])}
    messages, elapsed, server_cpu = counts["messages"], counts["seconds"], end_cpu - start_cpu
    waiting = end_waiting - start_waiting
    return Sample(
        messages / elapsed,
        server_cpu / max(messages, 1),
        server_cpu / (end - start),
        counts["cpu"] / elapsed,
        1 - (server_cpu + waiting) / (end - start),
    )


def _client_failed(client: subprocess.Popen[bytes]) -> RuntimeError:
    client.kill()
    assert client.stderr is not None
    errors = client.stderr.read().decode(errors="replace").strip()
    return RuntimeError(f"the C load generator failed: {errors[-500:] or 'no message'}")


def find_compiler() -> str | None:
    """``$CC`` when it is set (and then only it, as make does), else cc, gcc or clang."""
    if os.environ.get("CC"):
        return shutil.which(os.environ["CC"])
    return next(filter(None, map(shutil.which, ("cc", "gcc", "clang"))), None)


def build_c_client(directory: str) -> tuple[str | None, str]:
    """Compile ``echo_client.c`` into *directory*: (the program, what was done) or (None, why)."""
    compiler = find_compiler()
    if compiler is None:
        return None, "no C compiler found (install gcc, or set CC)"
    program = os.path.join(directory, "echo_client")
    compiled = subprocess.run(
        [compiler, "-O2", "-Wall", "-o", program, str(C_CLIENT)],
        capture_output=True,
        text=True,
        check=False,
    )
    if compiled.returncode != 0:
        return None, f"{compiler} could not compile {C_CLIENT.name}: {compiled.stderr[-500:]}"
    return program, f"C, {C_CLIENT.name} compiled with {compiler} -O2"


def poll_load(
    pid: int, port: int, size: int, connections: int, warm_up: float, seconds: float
) -> Sample:
    """The Python load generator (``--client poll``): the C one's design, in Python.

    Polling without a timeout keeps it on its CPU all the time, so it echoes back at
    once and, above all, no server pays for waking it: on loopback a ``send`` runs the
    receiver's whole TCP input in the sender's system call, wake-up included, so a
    load generator that sleeps between echoes bills part of its own cost to the server.
    """
    counted = _Counted(pid)
    message = b"m" * size
    buffer = memoryview(bytearray(max(size, 64 * 1024)))
    poller = select.epoll()
    # per descriptor: [socket, bytes received towards the next message, bytes unsent]
    peers: dict[int, list[Any]] = {}
    for _ in range(connections):
        sock = socket.create_connection(("127.0.0.1", port))
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.setblocking(False)
        peers[sock.fileno()] = [sock, 0, b""]
        poller.register(sock.fileno(), select.EPOLLIN)

    def send(fd: int, peer: list[Any], data: bytes) -> None:
        data = peer[2] + data
        try:
            sent = peer[0].send(data)
        except BlockingIOError:
            sent = 0
        peer[2] = data[sent:]
        poller.modify(fd, select.EPOLLIN | select.EPOLLOUT if peer[2] else select.EPOLLIN)

    def run_until(deadline: float) -> None:
        while time.perf_counter() < deadline:
            for fd, events in poller.poll(0):
                peer = peers[fd]
                if events & select.EPOLLOUT:
                    send(fd, peer, b"")
                if not events & select.EPOLLIN:
                    continue
                received = peer[0].recv_into(buffer)
                if not received:
                    raise ConnectionError("the server closed a connection")
                done, peer[1] = divmod(peer[1] + received, size)
                if done:
                    counted.count += done
                    send(fd, peer, message * done)

    try:
        for fd, peer in peers.items():
            send(fd, peer, message)
        run_until(time.perf_counter() + warm_up)
        counted.start()
        run_until(time.perf_counter() + seconds)
        return counted.sample()
    finally:
        poller.close()
        for peer in peers.values():
            peer[0].close()


class _Counted:
    """What the Python load generators share: the window of time and CPU that counts."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.count = 0

    def start(self) -> None:
        self._count, self._time = self.count, time.perf_counter()
        (self._cpu, self._waiting), self._own = process_cpu(self.pid), _own_cpu()

    def sample(self) -> Sample:
        count, elapsed = self.count - self._count, time.perf_counter() - self._time
        (cpu, waiting), own = process_cpu(self.pid), _own_cpu() - self._own
        cpu, waiting = cpu - self._cpu, waiting - self._waiting
        idle = 1 - (cpu + waiting) / elapsed
        return Sample(count / elapsed, cpu / max(count, 1), cpu / elapsed, own / elapsed, idle)


class _Client(asyncio.Protocol):
    """One connection of the uvloop load generator: one message in flight."""

    def __init__(self, size: int, counted: _Counted) -> None:
        self.message = b"m" * size
        self.size = size
        self.counted = counted
        self.pending = 0
        self.running = True

    def connection_made(self, transport: Any) -> None:
        self.transport = transport
        transport.write(self.message)

    def data_received(self, data: bytes) -> None:
        done, self.pending = divmod(self.pending + len(data), self.size)
        if done:
            self.counted.count += done
            if self.running:
                self.transport.write(self.message * done)


async def _asyncio_load(
    pid: int, port: int, size: int, connections: int, warm_up: float, seconds: float
) -> Sample:
    loop = asyncio.get_running_loop()
    counted = _Counted(pid)
    clients = []
    for _ in range(connections):
        _, client = await loop.create_connection(lambda: _Client(size, counted), "127.0.0.1", port)
        clients.append(client)
    await asyncio.sleep(warm_up)
    counted.start()
    await asyncio.sleep(seconds)
    sample = counted.sample()
    for client in clients:
        client.running = False
        client.transport.close()
    await asyncio.sleep(0.05)
    return sample


def uvloop_load(
    pid: int, port: int, size: int, connections: int, warm_up: float, seconds: float
) -> Sample:
    """The other load generator (``--client uvloop``): asyncio protocols on uvloop.

    It sleeps whenever it waits for an echo, so the servers' figures include waking it
    up; kept to show how much a sleeping client moves them.
    """
    coroutine = _asyncio_load(pid, port, size, connections, warm_up, seconds)
    try:
        import uvloop
    except ImportError:
        return asyncio.run(coroutine)
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        result: Sample = runner.run(coroutine)
    return result


def process_cpu(pid: int) -> tuple[float, float]:
    """Seconds process *pid* ran (user + system) and waited for a CPU so far, from /proc.

    ``schedstat`` counts nanoseconds for every thread, both; ``stat`` (the fallback)
    counts clock ticks, 10 ms each, too coarse for a two-second window, and no waiting.
    Waiting for a CPU means other processes had it: added to the running time, it tells
    a server that never idled (the load generator kept it fed) on a crowded machine.
    """
    running = waiting = 0
    try:
        for path in glob.glob(f"/proc/{pid}/task/*/schedstat"):
            with open(path) as schedstat:
                fields = schedstat.read().split()
            running, waiting = running + int(fields[0]), waiting + int(fields[1])
    except (OSError, ValueError, IndexError):
        running = 0
    if running:
        return running / 1e9, waiting / 1e9
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan"), float("nan")
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK"), float("nan")


def _own_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def pinning() -> bool:
    return (os.cpu_count() or 1) > 1 and hasattr(os, "sched_setaffinity")


def pin(cpu: int) -> None:
    """Run this process on *cpu* only, when the machine has more than one."""
    if pinning():
        os.sched_setaffinity(0, {cpu})
