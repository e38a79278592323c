"""``benchmarks/events.py`` still runs against the kernel (a smoke run; figures unchecked)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ROWS = ("drain", "chain", "fanout", "async", "call", "thread", "priority")


def test_events_benchmark_runs_quickly_without_circuits() -> None:
    completed = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "events.py"), "--quick", "--relays-only"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    assert "circuits" not in completed.stderr
    first_words = [line.split()[0] for line in completed.stdout.splitlines() if line.strip()]
    for row in ROWS:
        assert row in first_words, f"row {row!r} missing from:\n{completed.stdout}"
