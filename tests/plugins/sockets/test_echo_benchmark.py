"""``benchmarks/echo.py`` still runs with both load generators (a smoke run; figures unchecked)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]


@pytest.mark.slow
@pytest.mark.parametrize("client", ["poll", "uvloop"])
def test_echo_benchmark_measures_relays_and_the_buffered_asyncio_peer(client: str) -> None:
    completed = subprocess.run(
        [
            sys.executable,
            str(ROOT / "benchmarks" / "echo.py"),
            "--only",
            "asyncio-buffered,relays",
            "--seconds",
            "0.2",
            "--rounds",
            "1",
            "--client",
            client,
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    rows = {line.split()[0]: line for line in completed.stdout.splitlines() if line.strip()}
    assert "relays" in rows, completed.stdout
    assert "asyncio-buffered" in rows, completed.stdout
    assert "vs asyncio-buffered" in completed.stdout, completed.stdout
    assert "skipped" not in completed.stdout, completed.stdout
