"""``benchmarks/echo.py`` still runs with every load generator (smoke runs; figures unchecked),
and its C load generator counts exactly the window echo.py opens for it."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[3]
BENCHMARKS = ROOT / "benchmarks"

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def echo_load() -> ModuleType:
    sys.path.insert(0, str(BENCHMARKS))
    try:
        import echo_load
    finally:
        sys.path.remove(str(BENCHMARKS))
    return echo_load


@pytest.fixture(scope="module")
def program(echo_load: ModuleType, tmp_path_factory: pytest.TempPathFactory) -> str:
    """``echo_client.c`` compiled as echo.py compiles it."""
    if echo_load.find_compiler() is None:
        pytest.skip("no C compiler (cc, gcc or clang, or $CC)")
    built, note = echo_load.build_c_client(str(tmp_path_factory.mktemp("echo-client")))
    assert built is not None, note
    return str(built)


@pytest.fixture
def server() -> Iterator[tuple[int, int]]:
    """A buffered asyncio echo server from echo.py: (its pid, its port)."""
    process = subprocess.Popen(
        [sys.executable, str(BENCHMARKS / "echo.py"), "--serve", "asyncio-buffered"],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    try:
        yield process.pid, int(process.stdout.readline())
    finally:
        process.kill()
        process.wait()
        process.stdout.close()


def run_echo_benchmark(client: str, env: dict[str, str] | None = None) -> str:
    completed = subprocess.run(
        [
            sys.executable,
            str(BENCHMARKS / "echo.py"),
            "--only",
            "asyncio-buffered,relays",
            "--seconds",
            "0.1",
            "--warm-up",
            "0.05",
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
        env=env,
    )
    assert completed.returncode == 0, completed.stderr
    rows = {line.split()[0]: line for line in completed.stdout.splitlines() if line.strip()}
    assert "relays" in rows, completed.stdout
    assert "asyncio-buffered" in rows, completed.stdout
    assert "vs asyncio-buffered" in completed.stdout, completed.stdout
    assert "skipped" not in completed.stdout, completed.stdout
    return completed.stdout


@pytest.mark.usefixtures("program")
def test_echo_benchmark_uses_the_c_load_generator_by_default() -> None:
    output = run_echo_benchmark("c")
    assert "load generator: C, echo_client.c compiled with" in output, output
    assert "falling back" not in output, output


def test_echo_benchmark_falls_back_to_python_without_a_c_compiler() -> None:
    output = run_echo_benchmark("c", env=os.environ | {"CC": "relays-no-such-compiler"})
    assert "no C compiler found (install gcc, or set CC): falling back" in output, output
    assert "load generator: poll: Python" in output, output


@pytest.mark.parametrize("client", ["poll", "uvloop"])
def test_echo_benchmark_runs_with_the_python_load_generators(client: str) -> None:
    output = run_echo_benchmark(client)
    assert f"load generator: {client}:" in output, output


def test_c_client_counts_from_the_start_line_for_the_given_seconds(
    program: str, server: tuple[int, int]
) -> None:
    """Time spent waiting for echo.py's start line (the load running) is not counted."""
    _, port = server
    client = subprocess.Popen(
        [program, str(port), "64", "4", "0.01", "0.1", "-1"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    stdout, stderr = client.stdout, client.stderr
    assert client.stdin is not None
    assert stdout is not None
    assert stderr is not None
    try:
        assert stdout.readline() == "ready\n"
        time.sleep(0.3)  # echo.py reading the server's CPU, slowly
        client.stdin.write("start\n")
        client.stdin.flush()
        words = stdout.readline().split()
        client.stdin.close()
        assert client.wait(timeout=5) == 0, stderr.read()
    finally:
        if client.poll() is None:
            client.kill()
            client.wait()
        stdout.close()
        stderr.close()
    assert words[0] == "done", words
    counts = {key: float(value) for key, value in (word.split("=") for word in words[1:])}
    assert 0.1 <= counts["seconds"] < 0.25  # the window, without the 0.3 s before it
    assert counts["messages"] > 0
    # a message half received when the window opens or closes is counted in bytes only
    assert abs(counts["bytes"] - 64 * counts["messages"]) < 64 * 4
    assert 0 < counts["cpu"] <= counts["seconds"] * 1.1


def test_c_load_measures_the_server_over_the_window(
    echo_load: ModuleType, program: str, server: tuple[int, int]
) -> None:
    pid, port = server
    sample = echo_load.c_load(program, pid, port, 64 * 1024, 2, 0.01, 0.1)
    assert sample.rate > 0
    assert 0 < sample.server_busy <= 1.1
    assert 0 < sample.client_busy <= 1.1
    assert sample.cpu > 0
    assert -0.1 <= sample.server_idle < 1  # neither running nor waiting for a CPU


def test_c_load_says_why_the_c_client_failed(echo_load: ModuleType, program: str) -> None:
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]  # bound, not listening: connections are refused
        with pytest.raises(RuntimeError, match=rf"connect to 127\.0\.0\.1:{port}: Connection"):
            echo_load.c_load(program, os.getpid(), port, 64, 1, 0.01, 0.1)
