"""``examples/rpc/``: the calculator answers as the JSON-RPC how-to shows, and stops on SIGTERM."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

EXAMPLES = Path(__file__).parents[3] / "examples" / "rpc"
#: Seconds for any one step (start, a call, the stop).
WITHIN = 15


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_listening(port: int, process: subprocess.Popen[bytes]) -> None:
    """Wait, bounded, until *port* accepts a connection (the example announces nothing)."""
    for _ in range(WITHIN * 20):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            try:
                process.wait(0.05)  # a pause that ends early if the example dies
            except subprocess.TimeoutExpired:
                continue
            raise AssertionError(process.communicate(timeout=WITHIN)) from None
    raise AssertionError(f"nothing listens on {port}")


@pytest.fixture
def calculator() -> Iterator[tuple[int, int]]:
    http_port, lines_port = free_port(), free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            str(EXAMPLES / "calculator.py"),
            f"tcp://127.0.0.1:{http_port}",
            f"tcp://127.0.0.1:{lines_port}",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        wait_listening(http_port, process)
        wait_listening(lines_port, process)
        yield http_port, lines_port
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=WITHIN)
        assert process.returncode == 0, stderr
        assert b"Traceback" not in stderr, stderr
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate(timeout=WITHIN)


def post(port: int, document: object) -> object:
    call = urllib.request.Request(
        f"http://127.0.0.1:{port}/jsonrpc",
        data=json.dumps(document).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(call, timeout=WITHIN) as reply:
        return json.loads(reply.read())


def test_the_calculator_over_http(calculator: tuple[int, int]) -> None:
    http_port, _ = calculator
    assert post(http_port, {"jsonrpc": "2.0", "method": "add", "params": [1, 2], "id": 1}) == {
        "jsonrpc": "2.0",
        "result": 3,
        "id": 1,
    }
    reply = post(http_port, {"jsonrpc": "2.0", "method": "divide", "params": [1, 0], "id": 2})
    assert reply == {
        "jsonrpc": "2.0",
        "error": {"code": 1001, "message": "division by zero", "data": {"dividend": 1}},
        "id": 2,
    }
    reply = post(http_port, {"jsonrpc": "2.0", "method": "math.mul", "params": [2, 4], "id": 3})
    assert reply == {"jsonrpc": "2.0", "result": 8, "id": 3}


def test_the_python_client(calculator: tuple[int, int]) -> None:
    http_port, _ = calculator
    completed = subprocess.run(
        [
            sys.executable,
            str(EXAMPLES / "calculator_client.py"),
            f"http://127.0.0.1:{http_port}/jsonrpc",
        ],
        capture_output=True,
        text=True,
        timeout=WITHIN,
        check=True,
    )
    assert completed.stdout == "3\n"


@pytest.mark.skipif(shutil.which("nc") is None, reason="nc (apt: netcat-openbsd) is not installed")
def test_the_documented_nc_command_over_lines(calculator: tuple[int, int]) -> None:
    _, lines_port = calculator
    completed = subprocess.run(
        ["nc", "-N", "127.0.0.1", str(lines_port)],
        input=b'{"jsonrpc":"2.0","method":"add","params":[1,2],"id":1}\n',
        capture_output=True,
        timeout=WITHIN,
        check=True,
    )
    assert completed.stdout == b'{"jsonrpc":"2.0","result":3,"id":1}\n'
