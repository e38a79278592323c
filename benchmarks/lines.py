"""Lines per second of relays-io's LineBuffer, next to the other ways Python cuts lines.

Run from the repository root: ``.venv/bin/python benchmarks/lines.py [--quick]``.

Each peer turns the same bytes into the same lines, fed as a transport would feed them:

* ``relays``: :class:`relays_io.LineBuffer` (separator ``\\n``, a ``\\r`` before it dropped,
  a line-length limit checked);
* ``circuits``: circuits 3's ``splitLines`` (what its ``Line`` protocol calls on every read;
  a regular-expression split of the pending tail plus the new data, no limit);
* ``asyncio``: an :class:`asyncio.StreamReader` fed with ``feed_data`` and drained with
  ``readline`` (what an asyncio protocol written with streams does; a 64 KiB limit);
* ``floor``: ``bytes.split`` on the tail plus the new data, the least work that gives the
  lines (no ``\\r`` handling, no limit): what no line protocol can beat.

Workloads: ``short`` is 40-byte lines in 4 KiB reads (chat, commands), ``long`` 2000-byte
lines in 1 KiB reads (a line spans reads: the tail is carried over and over), ``trickle``
80-byte lines fed 7 bytes at a time (a slow peer). Each figure is the best of several
rounds, the peers taking turns within a round; wall clock and process CPU time are both
shown. The process is pinned to one CPU when the system allows (``--cpu N``).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

try:
    from relays_io import LineBuffer
except ImportError:  # not installed yet: use the source tree
    sys.path.insert(0, str(Path(__file__).parents[1] / "plugins" / "io" / "src"))
    from relays_io import LineBuffer

Splitter = Callable[[list[bytes]], int]

WORKLOADS = {
    # name: (line length without separator, read size)
    "short": (40, 4096),
    "long": (2000, 1024),
    "trickle": (80, 7),
}


def make_reads(line_length: int, read_size: int, total: int) -> tuple[list[bytes], int]:
    line = b"x" * (line_length - 1) + b"\r\n"
    count = max(1, total // len(line))
    stream = line * count
    reads = [stream[i : i + read_size] for i in range(0, len(stream), read_size)]
    return reads, count


def relays_lines(reads: list[bytes]) -> int:
    buffer = LineBuffer()
    found = 0
    for data in reads:
        found += len(buffer.feed(data))
    return found


def circuits_lines(reads: list[bytes]) -> int:
    """circuits 3's splitLines, as its Line protocol calls it (imported when installed)."""
    try:
        from circuits.protocols.line import splitLines
    except ImportError:
        return -1
    pending = b""
    found = 0
    for data in reads:
        lines, pending = splitLines(data, pending)
        found += len(lines)
    return found


def asyncio_lines(reads: list[bytes]) -> int:
    async def cut() -> int:
        reader = asyncio.StreamReader()
        found = 0
        for data in reads:
            reader.feed_data(data)
            # As many lines as this read completed: readline never waits for more bytes.
            for _ in range(data.count(b"\n")):
                await reader.readline()
                found += 1
        return found

    return asyncio.run(cut())


def floor_lines(reads: list[bytes]) -> int:
    pending = b""
    found = 0
    for data in reads:
        *lines, pending = (pending + data).split(b"\n")
        found += len(lines)
    return found


PEERS: dict[str, Splitter] = {
    "relays": relays_lines,
    "circuits": circuits_lines,
    "asyncio": asyncio_lines,
    "floor": floor_lines,
}


def measure(splitter: Splitter, reads: list[bytes]) -> tuple[float, float, int]:
    wall, cpu = time.perf_counter(), time.process_time()
    found = splitter(reads)
    return time.perf_counter() - wall, time.process_time() - cpu, found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a smoke run: small input")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--megabytes", type=float, default=8.0)
    parser.add_argument("--cpu", type=int, default=0, help="CPU to pin to (default 0)")
    options = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        with contextlib.suppress(OSError):
            os.sched_setaffinity(0, {options.cpu})
    total = 64 * 1024 if options.quick else int(options.megabytes * 1024 * 1024)
    rounds = 1 if options.quick else options.rounds
    print(
        f"{'workload':9} {'peer':9} {'Mlines/s':>9} {'MB/s':>8} {'CPU Mlines/s':>12} {'ratio':>6}"
    )
    for workload, (line_length, read_size) in WORKLOADS.items():
        reads, count = make_reads(line_length, read_size, total)
        best: dict[str, tuple[float, float]] = {}
        for _ in range(rounds):
            for name, splitter in PEERS.items():
                wall, cpu, found = measure(splitter, reads)
                if found < 0:
                    continue  # the peer is not installed
                if found != count:
                    raise SystemExit(f"{name} found {found} lines in {workload}, not {count}")
                old = best.get(name, (float("inf"), float("inf")))
                best[name] = (min(old[0], wall), min(old[1], cpu))
        for name, (wall, cpu) in best.items():
            ratio = best["relays"][0] / wall  # the peer's lines/s over relays'
            cpu_ratio = best["relays"][1] / max(cpu, 1e-9)
            print(
                f"{workload:9} {name:9} {count / wall / 1e6:9.2f}"
                f" {total / wall / 1e6:8.1f} {count / max(cpu, 1e-9) / 1e6:12.2f}"
                f" {ratio:6.2f} {cpu_ratio:9.2f}"
            )
    print("ratio: the peer's lines/s over relays' (above 1: the peer is faster); CPU ratio:")
    print("the same by process CPU time, steadier on a shared machine")


if __name__ == "__main__":
    main()
