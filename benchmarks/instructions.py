"""Instructions per item, counted by valgrind: a measure that machine load cannot move.

Wall-clock and CPU-time figures swing by tens of percent on a shared machine (CI runners,
a laptop in use). The number of machine instructions a piece of work executes does not:
run under valgrind's callgrind tool, the same workload gives the same count, run after
run, busy machine or not. It ignores cache misses and branch mispredictions, so it is a
proxy for time, not time itself; it is what tools like CodSpeed use to catch regressions
in CI for that reason.

:func:`per_item` runs a command twice under callgrind, for a small and a large number of
items, and divides the difference in instructions by the difference in items. Start-up
(interpreter, imports, building the tree) is the same in both runs and cancels out.
``PYTHONHASHSEED`` is fixed so that dict layouts, and with them the counts, repeat.

:func:`served_per_connection` counts a server's cost per connection inside one running
process instead (callgrind's counters dumped between batches of connections), because a
server's start and graceful stop do not cost the same from run to run.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable, Sequence

_TOTAL = re.compile(r"(?:Collected|refs)\s*:\s*([\d,]+)")


def available() -> bool:
    """Whether valgrind is installed (``apt-get install valgrind``)."""
    return shutil.which("valgrind") is not None


def count(command: Sequence[str]) -> int:
    """Instructions *command* executes, start to end, under callgrind."""
    environment = {**os.environ, "PYTHONHASHSEED": "0"}
    finished = subprocess.run(
        ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", *command],
        capture_output=True,
        text=True,
        env=environment,
        check=False,
    )
    if finished.returncode != 0:
        raise RuntimeError(
            f"{' '.join(command)} failed under valgrind:\n{finished.stderr[-2000:]}"
        )
    match = _TOTAL.search(finished.stderr)
    if match is None:
        raise RuntimeError(
            f"no instruction total in valgrind's output:\n{finished.stderr[-2000:]}"
        )
    return int(match.group(1).replace(",", ""))


def per_item(command: Sequence[str], small: int, large: int) -> float:
    """Instructions per item of ``command + [str(n)]``, from runs with *small* and *large*."""
    if large <= small:
        raise ValueError(f"large ({large}) must be more than small ({small})")
    few = count([*command, str(small)])
    many = count([*command, str(large)])
    return (many - few) / (large - small)


#: Under valgrind every handler runs some 50 times slower, and the blocked-loop watchdog
#: (relays' thread that names a handler holding the loop) would take each one for
#: blocking and look at the loop's stack, more often the busier the machine is: the one
#: part of a server's count that the machine's load moved. Off for the counts.
UNDER_VALGRIND = {"RELAYS_BLOCKED_LOOP_MS": "0"}


def served_per_connection(
    command: Sequence[str],
    drive: Callable[[int], None],
    *,
    ready: Callable[[subprocess.Popen[bytes]], bool],
    warmup: int = 100,
    small: int = 200,
    large: int = 1200,
) -> float:
    """Instructions a running server spends per connection, counted inside one process.

    *command* is started under callgrind; *ready* says once it listens, *drive* makes *n*
    connections to it. Counting start to end, as :func:`per_item` does, puts start-up and
    the graceful stop into both runs, and the stop's share grows with how long the
    server ran (timers, the watchdog's heartbeats): repeat runs of a short connection's
    count differed by several percent that way. Here callgrind's counters are dumped
    (``callgrind_control -d``) after a warm-up, after *small* more connections and after
    *large* more, and the count per connection is the difference of the last two parts
    over the difference of their connections. Start-up and stop are in no part, and what
    each part spends on its own dump cancels out. A process asleep in ``epoll_wait`` takes
    the dump command only when it wakes, so each dump is woken with further connections,
    one at a time until it is done, and those are counted too. ``PYTHONHASHSEED`` is
    fixed, as for :func:`count`, and relays' blocked-loop watchdog is off
    (:data:`UNDER_VALGRIND`).
    """
    if shutil.which("callgrind_control") is None:
        raise RuntimeError("callgrind_control is not installed: apt-get install valgrind")
    environment = {**os.environ, "PYTHONHASHSEED": "0", **UNDER_VALGRIND}
    with tempfile.TemporaryDirectory(prefix="callgrind-") as directory:
        out = os.path.join(directory, "callgrind.out")
        valgrind = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}"]
        with tempfile.TemporaryFile() as errors:
            process = subprocess.Popen(
                [*valgrind, *command],
                stdout=subprocess.DEVNULL,
                stderr=errors,
                env=environment,
                start_new_session=True,  # a group of our own: stopped by its id, never by name
            )
            try:
                if not ready(process):
                    errors.seek(0)
                    tail = errors.read().decode(errors="replace")[-2000:]
                    name = " ".join(command)
                    raise RuntimeError(f"{name} did not start under valgrind:\n{tail}")
                drive(warmup)
                _dump(process.pid, drive)
                small_wakes = _dump(process.pid, drive, before=lambda: drive(small))
                large_wakes = _dump(process.pid, drive, before=lambda: drive(large))
            finally:
                os.killpg(process.pid, signal.SIGTERM)
                process.wait(600)
        few = _part_total(f"{out}.2")
        many = _part_total(f"{out}.3")
    return (many - few) / (large + large_wakes - small - small_wakes)


def _dump(pid: int, drive: Callable[[int], None], before: Callable[[], None] | None = None) -> int:
    """Run *before*, then have callgrind in process *pid* dump its counters; the number of
    connections made to wake it meanwhile."""
    if before is not None:
        before()
    control = subprocess.Popen(
        ["callgrind_control", "-d", str(pid)], stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT
    )
    wakes = 0
    while control.poll() is None:
        time.sleep(0.05)
        if control.poll() is None:
            drive(1)
            wakes += 1
    if control.returncode != 0:
        raise RuntimeError(f"callgrind_control -d {pid} failed ({control.returncode})")
    return wakes


def _part_total(path: str) -> int:
    """The instructions of one dumped part (its ``totals:`` line)."""
    with open(path) as part:
        for line in part:
            if line.startswith(("totals:", "summary:")):
                return int(line.split()[1])
    raise RuntimeError(f"no totals in {path}")
