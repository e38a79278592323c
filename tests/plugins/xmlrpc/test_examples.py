"""``examples/rpc/xmlrpc_*.py``: the calculator answers the client as the XML-RPC how-to shows."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

EXAMPLES = Path(__file__).parents[3] / "examples" / "rpc"
#: Seconds for any one step (start, the calls, the stop).
WITHIN = 15


def test_the_calculator_answers_the_client() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(
        [sys.executable, str(EXAMPLES / "xmlrpc_calculator.py"), f"tcp://127.0.0.1:{port}"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        for _ in range(WITHIN * 20):  # bounded: until it listens
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                try:
                    server.wait(0.05)  # a pause that ends early if the example dies
                except subprocess.TimeoutExpired:
                    continue
                raise AssertionError(server.communicate(timeout=WITHIN)) from None
        client = subprocess.run(
            [sys.executable, str(EXAMPLES / "xmlrpc_client.py"), f"http://127.0.0.1:{port}/RPC2"],
            capture_output=True,
            text=True,
            timeout=WITHIN,
            check=True,
        )
        assert client.stdout == "5\n3 <Fault 4001: 'division by zero'>\n"
        server.send_signal(signal.SIGTERM)
        _, stderr = server.communicate(timeout=WITHIN)
        assert server.returncode == 0, stderr
        assert b"Traceback" not in stderr, stderr
    finally:
        if server.poll() is None:
            server.kill()
            server.communicate(timeout=WITHIN)
