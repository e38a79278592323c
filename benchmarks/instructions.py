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
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Sequence

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
