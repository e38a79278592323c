#!/usr/bin/env python3
"""TCP echo: relays-sockets next to circuits' TCPServer and raw asyncio protocols.

Each server runs in its own process on loopback, written the way its users write an
echo server, and so does the load generator (a C program; see below). Two loads, each
measured in turn on every server:

* messages: ``CONNECTIONS`` connections, each with one ``SMALL``-byte message in flight
  (send, wait for the echo, send again), so one read is one message;
* MB/s: ``LARGE_CONNECTIONS`` connections echoing ``LARGE``-byte messages.

Method, and why:

* The server is pinned to CPU 0 and the load generator to CPU 1 (when there are two),
  so they never take turns on one core.
* Counting starts after the connections are open and a warm-up, so start-up (imports,
  listening, accepting) is not counted. The server's CPU time is read from ``/proc``
  (``schedstat``: nanoseconds, every thread) right at the start and the end of the
  counted interval; ``stat``'s 10 ms clock ticks are too coarse for two seconds.
* Every server and the load generator set ``TCP_NODELAY`` (asyncio and uvloop do on
  every TCP transport, circuits on its listening socket, which accepted sockets inherit
  on Linux): nobody waits for Nagle's algorithm or a delayed ACK.
* The load generator is a small C program, ``echo_client.c`` beside this file,
  compiled with ``cc -O2`` into a temporary directory at each run. It is C for the
  reason wrk is C: a load generator in Python spends about as much CPU per message as
  the fastest servers, so it, not they, sets the pace (they wait for it half the time),
  and a slow client changes what each server sees: one that answers late lets a slow
  server find many sockets ready per poll and answer them in one batch, which flatters
  it. The C client keeps even the fastest server here busy nearly all the time on a
  quiet machine (the idle column, below, near 0). Without a C compiler (``$CC``, else
  ``cc``, ``gcc`` or ``clang``), echo.py says so and falls back to ``--client poll``.
* Both ``--client c`` and ``--client poll`` (the Python one) poll their sockets without
  ever sleeping. On loopback a ``send`` runs the receiver's TCP input, wake-up
  included, inside the sender's system call: a client that sleeps between echoes bills
  its wake-ups to the server, more to a server that answers each read at once than to
  one that answers a batch. A client that never sleeps has nothing to bill, answers
  each echo at once and so keeps every server as busy as it can be. ``--client
  uvloop`` uses asyncio protocols on uvloop instead, which sleep, to show how much
  that moves the figures.
* The C client runs its warm-up, prints ``ready`` and keeps the load going until this
  process has read the server's CPU time and written a line to its stdin; then it
  counts for ``--seconds``, stops sending and prints its counts, and this process
  reads the server's CPU time again before letting it close its connections. So the
  server's CPU is read over the counted window only: the edges can move the count by
  at most one message per connection.
* The table says how busy each side was (CPU seconds per second). On a shared machine
  both are often well below 100%: other processes take turns on the same cores. Then
  messages/s say more about the machine than about the server; CPU per message moves
  much less, and is the figure to compare. The idle column is the share of the time
  the server neither ran nor waited for a CPU (``schedstat``'s second field counts
  the waiting): the time it waited for the load generator. Near 0, the load
  generator kept it fed and any shortfall in busy is other processes'; well above 0,
  the load generator was too slow, or was itself waiting for its CPU.
* Rounds interleave the servers (a burst of load from elsewhere hits them all alike);
  each figure is the best of the rounds, measure by measure: the highest rate, the
  lowest CPU per message.

Two asyncio peers, both written as the asyncio docs show: ``asyncio`` is a
``Protocol`` (``data_received`` -> ``transport.write``); ``asyncio-buffered`` is a
``BufferedProtocol`` reading into one reused buffer, as relays-sockets does. The plain
``Protocol`` costs far more than it looks: its transport reads with
``sock.recv(256 KiB)``, and on CPython 3.11 with glibc each such read allocates and
frees a 256 KiB block with ``mmap``/``mremap``/``munmap`` (three system calls and a
page fault per read, some 30 us; see python/cpython#85451). Its users pay that, so it
stays; the buffered peer shows what asyncio costs without it, and relays is held to
both. The report ends with the ceiling: the buffered peer's figures divided by
circuits', what a framework costing nothing on top of the loop would reach.

Usage: ``python benchmarks/echo.py [--seconds 2] [--rounds 2] [--only relays,circuits]
[--client c|poll|uvloop] [--warm-up 0.5]``. Each round takes about 5 s per server.
``--only relays,relays-64k`` also runs relays with its old ``read_size`` of 64 KiB.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import os
import sys
import tempfile
from typing import Any

import _harness
from echo_load import CLIENT_CPU, CLIENTS, SERVER_CPU, Load, Sample, choose_load, pin

SERVERS = ("asyncio", "asyncio-buffered", "relays", "relays-uvloop", "circuits")
#: Run only when named with --only: relays reading 64 KiB per recv, its ``read_size``
#: until it read 256 KiB as the peers do.
VARIANTS = ("relays-64k",)
SMALL = 64
LARGE = 64 * 1024
CONNECTIONS = 50
LARGE_CONNECTIONS = 8
WARM_UP = 0.5
#: relays must reach at least these ratios to each peer, by messages/s and by CPU.
TARGETS = {"circuits": 3.0, "asyncio": 0.5, "asyncio-buffered": 0.5}


# -- the servers, each run as ``echo.py --serve <kind>``: prints its port, serves forever --


def serve_asyncio() -> None:
    class Echo(asyncio.Protocol):
        def connection_made(self, transport: Any) -> None:
            self.transport = transport

        def data_received(self, data: bytes) -> None:
            self.transport.write(data)

    asyncio.run(_serve_forever(Echo))


def serve_asyncio_buffered() -> None:
    class Echo(asyncio.BufferedProtocol):
        def __init__(self) -> None:
            self.buffer = memoryview(bytearray(64 * 1024))

        def connection_made(self, transport: Any) -> None:
            self.transport = transport

        def get_buffer(self, sizehint: int) -> memoryview:
            return self.buffer

        def buffer_updated(self, nbytes: int) -> None:
            self.transport.write(self.buffer[:nbytes].tobytes())

    asyncio.run(_serve_forever(Echo))


async def _serve_forever(protocol: Any) -> None:
    server = await asyncio.get_running_loop().create_server(protocol, "127.0.0.1", 0)
    print(server.sockets[0].getsockname()[1], flush=True)
    await server.serve_forever()


def serve_relays(use_uvloop: bool = False, read_size: int | None = None) -> None:
    from relays import Component
    from relays_sockets import TCPServer

    class Echo(Component):
        def read(self, sock: Any, data: bytes) -> bytes:
            return data

        def ready(self, server: Any, address: Any) -> None:
            print(address[1], flush=True)

    options = {} if read_size is None else {"read_size": read_size}
    (Echo() + TCPServer(("127.0.0.1", 0), **options)).run(use_uvloop=use_uvloop)


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


def start_server(kind: str) -> _harness.ServerProcess:
    """``echo.py --serve KIND``: it pins itself and prints the port it chose."""
    return _harness.ServerProcess(kind, [sys.executable, __file__, "--serve", kind], port=None)


@dataclasses.dataclass
class Result:
    """The best of the rounds, measure by measure."""

    messages: float = 0.0  # messages/s
    message_cpu: float = float("inf")  # server CPU seconds per message
    server_busy: float = 0.0  # in the round with the best messages/s
    client_busy: float = 0.0  # idem
    server_idle: float = 0.0  # idem
    megabytes: float = 0.0  # MB/s
    megabyte_cpu: float = float("inf")  # server CPU seconds per MB

    def add(self, small: Sample, large: Sample) -> None:
        if small.rate > self.messages:
            self.messages = small.rate
            self.server_busy, self.client_busy = small.server_busy, small.client_busy
            self.server_idle = small.server_idle
        self.message_cpu = min(self.message_cpu, small.cpu)
        self.megabytes = max(self.megabytes, large.rate * LARGE / 1e6)
        self.megabyte_cpu = min(self.megabyte_cpu, large.cpu * 1e6 / LARGE)


def run(
    kinds: list[str], seconds: float, rounds: int, client: str, warm_up: float = WARM_UP
) -> tuple[dict[str, Result], str]:
    """The best of *rounds* for each server, and the load generator's name."""
    pin(CLIENT_CPU)
    with tempfile.TemporaryDirectory(prefix="relays-echo-") as directory:
        load, description = choose_load(client, directory)
        print(f"load generator: {description}", flush=True)
        return _rounds(load, kinds, seconds, rounds, warm_up), description


def _rounds(
    load: Load, kinds: list[str], seconds: float, rounds: int, warm_up: float
) -> dict[str, Result]:
    """Rounds interleave the servers: a burst of load from elsewhere hits them all alike."""

    def measure(number: int, kind: str) -> tuple[Sample, Sample] | None:
        try:
            server = start_server(kind)
        except _harness.ServerDidNotStart as error:
            print(f"{kind}: skipped, {error}", flush=True)
            return None
        with server:
            small = load(server.pid, server.port, SMALL, CONNECTIONS, warm_up, seconds)
            large = load(server.pid, server.port, LARGE, LARGE_CONNECTIONS, warm_up, seconds)
        print(
            f"round {number} {kind:<16} {small.rate:>9,.0f} messages/s"
            f" {small.cpu * 1e6:>6.1f} us CPU/message"
            f" (server {small.server_busy:.0%} busy, {small.server_idle:.0%} idle;"
            f" client {small.client_busy:.0%} busy)"
            f" {large.rate * LARGE / 1e6:>8,.1f} MB/s",
            flush=True,
        )
        return small, large

    results: dict[str, Result] = {}
    for kind, samples in _harness.rounds(rounds, kinds, measure).items():
        for pair in samples:
            if pair is not None:
                results.setdefault(kind, Result()).add(*pair)
    return results


def _ratio(numerator: float, denominator: float) -> float:
    """*numerator* / *denominator*, NaN when nothing was measured: on a loaded machine a
    short window can pass without the server getting the CPU at all (0 s of CPU)."""
    return numerator / denominator if denominator else float("nan")


def report(results: dict[str, Result], load_generator: str) -> None:
    print()
    print(f"TCP echo on loopback, {os.cpu_count()} CPU(s), Python {sys.version.split()[0]}")
    print(f"  load generator: {load_generator}")
    print(f"  messages: {CONNECTIONS} connections x 1 message of {SMALL} B in flight")
    print(f"  MB/s: {LARGE_CONNECTIONS} connections x 1 message of {LARGE // 1024} KiB")
    print("  best of the rounds for each column; CPU: the server process's, lower is better;")
    print("  busy: CPU seconds per second of the server and of the load generator;")
    print("  idle: the server's share of the time neither running nor waiting for a CPU,")
    print("  i.e. waiting for the load generator (near 0: it kept the server fed)")
    print()
    print(
        f"{'server':<16} {'messages/s':>10} {'CPU us/msg':>10} {'busy':>11} {'idle':>5}"
        f" {'MB/s':>8} {'CPU ms/MB':>9}"
    )
    for kind, r in results.items():
        busy = f"{r.server_busy:.0%}/{r.client_busy:.0%}"
        print(
            f"{kind:<16} {r.messages:>10,.0f} {r.message_cpu * 1e6:>10.1f} {busy:>11}"
            f" {r.server_idle:>5.0%} {r.megabytes:>8,.1f} {r.megabyte_cpu * 1e3:>9.2f}"
        )
    relays = results.get("relays")
    if relays is None:
        return
    print()
    print("relays / peer: messages/s and MB/s divided by the peer's; CPU: the peer's CPU")
    print("per message (per MB) divided by relays' (2.0 = relays uses half the CPU).")
    for other, target in TARGETS.items():
        o = results.get(other)
        if o is None:
            continue
        rate = _ratio(relays.messages, o.messages)
        cpu = _ratio(o.message_cpu, relays.message_cpu)
        verdict = "PASS" if rate >= target and cpu >= target else "MISS"  # NaN: MISS
        print(
            f"  vs {other:<16} messages/s x{rate:.2f}  CPU/message x{cpu:.2f}"
            f"  MB/s x{_ratio(relays.megabytes, o.megabytes):.2f}"
            f"  CPU/MB x{_ratio(o.megabyte_cpu, relays.megabyte_cpu):.2f}"
            f"  (target x{target:g} by messages/s and CPU: {verdict})"
        )
    floor, circuits = results.get("asyncio-buffered"), results.get("circuits")
    if floor is not None and circuits is not None:
        # What no framework on this loop can beat: the loop's and the system calls' share.
        print(
            f"  ceiling: asyncio-buffered (no framework at all) is"
            f" x{circuits.message_cpu / floor.message_cpu:.2f} circuits' CPU/message and"
            f" x{floor.messages / circuits.messages:.2f} its messages/s on this machine"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--serve", choices=SERVERS + VARIANTS, help=argparse.SUPPRESS)
    parser.add_argument("--seconds", type=float, default=2.0, help="per measure (default 2)")
    parser.add_argument("--rounds", type=int, default=2, help="best of (default 2)")
    parser.add_argument("--only", default=",".join(SERVERS), help="servers to compare")
    parser.add_argument(
        "--warm-up", type=float, default=WARM_UP, help="seconds before counting (default 0.5)"
    )
    parser.add_argument(
        "--client",
        choices=CLIENTS,
        default="c",
        help="load generator: c (compiled at each run; poll without a C compiler),"
        " poll (Python) or uvloop (default c)",
    )
    options = parser.parse_args()
    if options.serve:
        pin(SERVER_CPU)
        servers = {
            "asyncio": serve_asyncio,
            "asyncio-buffered": serve_asyncio_buffered,
            "relays": serve_relays,
            "relays-uvloop": lambda: serve_relays(use_uvloop=True),
            "relays-64k": lambda: serve_relays(read_size=64 * 1024),
            "circuits": serve_circuits,
        }
        servers[options.serve]()
        return
    kinds = [kind for kind in options.only.split(",") if kind in SERVERS + VARIANTS]
    results, load_generator = run(
        kinds, options.seconds, options.rounds, options.client, options.warm_up
    )
    report(results, load_generator)


if __name__ == "__main__":
    main()
