"""``examples/rpc/``: the calculator answers as the JSON-RPC how-to shows, and stops on SIGTERM."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from relays.testing import RunExample

pytestmark = pytest.mark.integration

EXAMPLES = Path(__file__).parents[3] / "examples" / "rpc"
#: Seconds for any one step (start, a call, the stop).
WITHIN = 15


@pytest.fixture
def calculator(run_example: RunExample) -> tuple[int, ...]:
    """The calculator's HTTP port and line-protocol port; its clean stop is checked after."""
    example = run_example(
        EXAMPLES / "calculator.py", "tcp://127.0.0.1:{0}", "tcp://127.0.0.1:{1}", ports=2
    )
    return example.ports


def post(port: int, document: object) -> object:
    call = urllib.request.Request(
        f"http://127.0.0.1:{port}/jsonrpc",
        data=json.dumps(document).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(call, timeout=WITHIN) as reply:
        return json.loads(reply.read())


def test_the_calculator_over_http(calculator: tuple[int, ...]) -> None:
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


def test_the_python_client(calculator: tuple[int, ...]) -> None:
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
def test_the_documented_nc_command_over_lines(calculator: tuple[int, ...]) -> None:
    _, lines_port = calculator
    completed = subprocess.run(
        ["nc", "-N", "127.0.0.1", str(lines_port)],
        input=b'{"jsonrpc":"2.0","method":"add","params":[1,2],"id":1}\n',
        capture_output=True,
        timeout=WITHIN,
        check=True,
    )
    assert completed.stdout == b'{"jsonrpc":"2.0","result":3,"id":1}\n'
