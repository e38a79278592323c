"""Smoke runs of the benchmark scripts: each runs with its smallest settings and prints its
table (figures unchecked: speed is judged in ``benchmarks/``, never in tests)."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def run_benchmark() -> Callable[..., str]:
    """Run ``benchmarks/NAME.py ARGS...`` to its end (bounded) and return what it printed
    on stdout; a failed run fails the test with the end of its stderr."""

    def run(name: str, *arguments: str, timeout: float = 300) -> str:
        completed = subprocess.run(
            [sys.executable, str(ROOT / "benchmarks" / f"{name}.py"), *arguments],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        assert completed.returncode == 0, completed.stderr[-3000:]
        return completed.stdout

    return run
