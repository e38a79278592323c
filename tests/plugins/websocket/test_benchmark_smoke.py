"""benchmarks/websocket.py: what ``--instructions`` counts runs on its own, for each server."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]


@pytest.mark.parametrize("server", ["relays", "websockets", "aiohttp"])
@pytest.mark.parametrize("size", [64, 65536])
def test_the_counted_echo_runs_on_its_own(server: str, size: int) -> None:
    """``--instructions`` runs ``--count SERVER --size N ... MESSAGES`` under valgrind: the
    server in-process, echoing exactly that many messages to the thin client, then exit."""
    if server != "relays":
        pytest.importorskip(server)
    completed = subprocess.run(
        [
            sys.executable,
            "-P",
            str(ROOT / "benchmarks" / "websocket.py"),
            "--count",
            server,
            "--size",
            str(size),
            "--connections",
            "3",
            "20",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr[-2000:]


def test_the_benchmark_says_which_masking_the_relays_server_runs() -> None:
    load = (
        "import importlib.util as util, sys; "
        "spec = util.spec_from_file_location('bench', sys.argv[1]); "
        "bench = util.module_from_spec(spec); spec.loader.exec_module(bench); "
        "print(bench.masking_path())"
    )
    completed = subprocess.run(
        [sys.executable, "-P", "-c", load, str(ROOT / "benchmarks" / "websocket.py")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    from relays_websocket._masking import c_apply_mask

    expected = "C apply_mask" if c_apply_mask is not None else "pure Python"
    assert expected in completed.stdout
