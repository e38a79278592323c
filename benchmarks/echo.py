#!/usr/bin/env python3
"""TCP echo throughput: relays-sockets against circuits' TCPServer and a raw asyncio Protocol.

Each server runs in its own process on loopback; this process is the load generator
(asyncio protocols, so it costs as little as a client can). Two measures per server:

* messages/s: CONNECTIONS connections, each keeping WINDOW small messages in flight;
* MB/s: fewer connections echoing LARGE-byte messages.

Usage: ``python benchmarks/echo.py [--seconds 3] [--only relays,asyncio,circuits]``.
The whole run is bounded (about 30 s with the defaults) and prints a table and ratios.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import os
import subprocess
import sys
import time
from typing import Any

SERVERS = ("asyncio", "relays", "relays-uvloop", "circuits")
SMALL = 64
LARGE = 64 * 1024
CONNECTIONS = 50
WINDOW = 1
LARGE_CONNECTIONS = 8


# -- the servers, each run as ``echo.py --serve <kind>``: prints its port, serves forever --


def serve_asyncio() -> None:
    class Echo(asyncio.Protocol):
        def connection_made(self, transport: Any) -> None:
            self.transport = transport

        def data_received(self, data: bytes) -> None:
            self.transport.write(data)

    async def main() -> None:
        server = await asyncio.get_running_loop().create_server(Echo, "127.0.0.1", 0)
        print(server.sockets[0].getsockname()[1], flush=True)
        await server.serve_forever()

    asyncio.run(main())


def serve_relays(use_uvloop: bool = False) -> None:
    from relays import Component
    from relays_sockets import TCPServer

    class Echo(Component):
        def read(self, sock: Any, data: bytes) -> bytes:
            return data

        def ready(self, server: Any, address: Any) -> None:
            print(address[1], flush=True)

    (Echo() + TCPServer(("127.0.0.1", 0))).run(use_uvloop=use_uvloop)


def serve_circuits() -> None:
    from circuits import Component
    from circuits.net.events import write
    from circuits.net.sockets import TCPServer

    class Echo(Component):
        def read(self, sock: Any, data: bytes) -> None:
            self.fire(write(sock, data))

        def ready(self, server: Any, bind: Any) -> None:
            print(bind[1], flush=True)

    (Echo() + TCPServer(("127.0.0.1", 0))).run()


# -- the load generator ---------------------------------------------------------------


class _Client(asyncio.Protocol):
    """Keeps *window* messages of *size* bytes in flight; counts echoed messages."""

    def __init__(self, size: int, window: int, counter: list[int]) -> None:
        self.message = b"m" * size
        self.size = size
        self.window = window
        self.counter = counter
        self.pending = 0
        self.running = True

    def connection_made(self, transport: Any) -> None:
        self.transport = transport
        transport.write(self.message * self.window)

    def data_received(self, data: bytes) -> None:
        self.pending += len(data)
        done, self.pending = divmod(self.pending, self.size)
        if done:
            self.counter[0] += done
            if self.running:
                self.transport.write(self.message * done)


def server_cpu(pid: int) -> float:
    """CPU seconds the server process used so far (user + system), from /proc (Linux)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def measure(
    pid: int, port: int, size: int, connections: int, window: int, seconds: float
) -> tuple[float, float]:
    """Messages echoed per second over *seconds* (after a short warm-up), and the server's
    CPU seconds per message meanwhile."""
    loop = asyncio.get_running_loop()
    counter = [0]
    clients = []
    for _ in range(connections):
        _, client = await loop.create_connection(
            lambda: _Client(size, window, counter), "127.0.0.1", port
        )
        clients.append(client)
    await asyncio.sleep(0.3)
    start_count, start, start_cpu = counter[0], time.perf_counter(), server_cpu(pid)
    await asyncio.sleep(seconds)
    count = counter[0] - start_count
    rate = count / (time.perf_counter() - start)
    cpu = (server_cpu(pid) - start_cpu) / max(count, 1)
    for client in clients:
        client.running = False
        client.transport.close()
    await asyncio.sleep(0.05)
    return rate, cpu


def _run_client(coroutine: Any) -> tuple[float, float]:
    """Run the load generator, on uvloop when installed: the cheaper the client, the more
    the figures say about the server."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(coroutine)
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        result: tuple[float, float] = runner.run(coroutine)
    return result


def start_server(kind: str) -> tuple[subprocess.Popen[str], int]:
    process = subprocess.Popen(
        [sys.executable, __file__, "--serve", kind],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    line = process.stdout.readline()
    if not line.strip().isdigit():
        process.kill()
        _, errors = process.communicate(timeout=5)
        raise RuntimeError(f"the {kind} server did not start: {errors.strip()[-500:]}")
    return process, int(line)


def stop_server(process: subprocess.Popen[str]) -> None:
    process.terminate()
    try:
        process.communicate(timeout=5)
    except subprocess.TimeoutExpired:
        process.kill()
        process.communicate()


@dataclasses.dataclass
class Result:
    messages: float = 0.0  # messages/s measured
    message_cpu: float = float("inf")  # server CPU seconds per message
    megabytes: float = 0.0  # MB/s measured
    megabyte_cpu: float = float("inf")  # server CPU seconds per MB

    def merge(self, other: Result) -> Result:
        """The best of two rounds, measure by measure."""
        return Result(
            max(self.messages, other.messages),
            min(self.message_cpu, other.message_cpu),
            max(self.megabytes, other.megabytes),
            min(self.megabyte_cpu, other.megabyte_cpu),
        )


def run(kinds: list[str], seconds: float, rounds: int) -> dict[str, Result]:
    """The best of *rounds* for each server; rounds interleave the servers, so a burst of
    load from elsewhere on the machine does not hit one server only."""
    results: dict[str, Result] = {}
    for round_number in range(1, rounds + 1):
        for kind in kinds:
            try:
                process, port = start_server(kind)
            except RuntimeError as error:
                print(f"{kind}: skipped, {error}", flush=True)
                continue
            try:
                small = measure(process.pid, port, SMALL, CONNECTIONS, WINDOW, seconds)
                messages, message_cpu = _run_client(small)
                large = measure(process.pid, port, LARGE, LARGE_CONNECTIONS, 1, seconds)
                large_messages, large_cpu = _run_client(large)
            finally:
                stop_server(process)
            megabytes = large_messages * LARGE / 1e6
            result = Result(messages, message_cpu, megabytes, large_cpu * 1e6 / LARGE)
            results[kind] = results.get(kind, Result()).merge(result)
            print(
                f"round {round_number} {kind:<13} {messages:>10,.0f} messages/s"
                f" {megabytes:>8,.1f} MB/s",
                flush=True,
            )
    return results


def report(results: dict[str, Result]) -> None:
    print()
    print(f"TCP echo on loopback, {os.cpu_count()} CPU(s), Python {sys.version.split()[0]}")
    print(f"  messages: {CONNECTIONS} connections x {WINDOW} in flight x {SMALL} B")
    print(f"  MB/s: {LARGE_CONNECTIONS} connections x {LARGE // 1024} KiB messages")
    print("  server CPU: what the server process spent per message / per MB (lower is better)")
    print()
    print(
        f"{'server':<13} {'messages/s':>11} {'CPU us/msg':>11} {'msg/CPU-s':>10}"
        f" {'MB/s':>8} {'CPU ms/MB':>10} {'MB/CPU-s':>9}"
    )
    for kind, r in results.items():
        print(
            f"{kind:<13} {r.messages:>11,.0f} {r.message_cpu * 1e6:>11.1f}"
            f" {1 / r.message_cpu:>10,.0f} {r.megabytes:>8,.1f}"
            f" {r.megabyte_cpu * 1e3:>10.2f} {1 / r.megabyte_cpu:>9,.0f}"
        )
    print()
    relays = results.get("relays")
    for other in ("circuits", "asyncio"):
        if relays is None or other not in results:
            continue
        o = results[other]
        print(
            f"relays / {other:<8} measured: messages/s x{relays.messages / o.messages:.2f},"
            f" MB/s x{relays.megabytes / o.megabytes:.2f};"
            f" per server CPU: messages x{o.message_cpu / relays.message_cpu:.2f},"
            f" MB x{o.megabyte_cpu / relays.megabyte_cpu:.2f}"
        )
    print()
    print(
        "Measured rates are capped by the load generator (one process on the same cores);"
        " per-CPU figures say what each server costs."
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--serve", choices=SERVERS, help=argparse.SUPPRESS)
    parser.add_argument("--seconds", type=float, default=2.0, help="per measure (default 2)")
    parser.add_argument("--rounds", type=int, default=2, help="best of (default 2)")
    parser.add_argument("--only", default=",".join(SERVERS), help="servers to compare")
    options = parser.parse_args()
    if options.serve:
        servers = {
            "asyncio": serve_asyncio,
            "relays": serve_relays,
            "relays-uvloop": lambda: serve_relays(use_uvloop=True),
            "circuits": serve_circuits,
        }
        servers[options.serve]()
        return
    kinds = [kind for kind in options.only.split(",") if kind in SERVERS]
    report(run(kinds, options.seconds, options.rounds))


if __name__ == "__main__":
    main()
