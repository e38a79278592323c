"""``benchmarks/lines.py`` still runs against relays-io (a smoke run; figures unchecked)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


def test_the_lines_benchmark_runs_quickly() -> None:
    completed = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "lines.py"), "--quick"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    rows = {tuple(line.split()[:2]) for line in completed.stdout.splitlines()}
    for workload in ("short", "long", "trickle"):
        assert (workload, "relays") in rows, completed.stdout
