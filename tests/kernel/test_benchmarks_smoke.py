"""``benchmarks/events.py`` still runs against the kernel (a smoke run; figures unchecked)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ROWS = ("drain", "chain", "fanout", "async", "call", "thread", "priority")


def test_events_benchmark_runs_quickly_without_circuits() -> None:
    completed = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "events.py"), "--quick", "--relays-only"],
        cwd=ROOT,
        env={**os.environ, "RELAYS_UVLOOP": "0"},
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
    # The async row's floor: bare asyncio tasks made with create_task, on relays' loop;
    # on 3.12+ also the eager one.
    assert "floor" in first_words
    assert ("eager" in first_words) == (sys.version_info >= (3, 12))
    assert "create_task" in completed.stdout
    assert "relays on asyncio" in completed.stdout.splitlines()[0]


def test_instruction_counts_are_steady_and_per_event() -> None:
    """``--instructions`` counts the same work the same way every time (what makes it
    useful on a busy machine), and per event, not per run."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        import instructions
    finally:
        sys.path.remove(str(ROOT / "benchmarks"))
    loop = [sys.executable, "-c", "import sys\nfor i in range(int(sys.argv[1])): str(i)"]
    first = instructions.per_item(loop, 1000, 3000)
    again = instructions.per_item(loop, 1000, 3000)
    assert 50 < first < 5000  # one str() and a loop step: hundreds, not a run's millions
    assert abs(first - again) / first < 0.01


@pytest.mark.parametrize("side", ["relays", "circuits", "asyncio", "asyncio-eager"])
def test_what_instruction_counting_runs_works_on_its_own(side: str) -> None:
    """``--instructions`` runs ``--run-once SIDE ROW N`` under valgrind, per side."""
    if side == "asyncio-eager" and sys.version_info < (3, 12):
        pytest.skip("eager tasks exist on Python 3.12+ only")
    row = "async" if side.startswith("asyncio") else "chain"
    completed = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "events.py"), "--run-once", side, row, "50"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
