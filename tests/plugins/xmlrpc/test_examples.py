"""``examples/rpc/xmlrpc_*.py``: the calculator answers the client as the XML-RPC how-to shows."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from relays.testing import RunExample

pytestmark = pytest.mark.integration

EXAMPLES = Path(__file__).parents[3] / "examples" / "rpc"
#: Seconds for any one step (start, the calls, the stop).
WITHIN = 15


def test_the_calculator_answers_the_client(run_example: RunExample) -> None:
    server = run_example(EXAMPLES / "xmlrpc_calculator.py", "tcp://127.0.0.1:{0}")
    client = subprocess.run(
        [sys.executable, str(EXAMPLES / "xmlrpc_client.py"), f"{server.url}RPC2"],
        capture_output=True,
        text=True,
        timeout=WITHIN,
        check=True,
    )
    assert client.stdout == "5\n3 <Fault 4001: 'division by zero'>\n"
    server.stop()  # SIGTERM: it must end with status 0, without a traceback
