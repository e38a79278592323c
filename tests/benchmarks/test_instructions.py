"""instructions.served_per_connection: a server's count per connection, read inside it."""

from __future__ import annotations

import importlib.util
import shutil
import sys
from pathlib import Path
from types import ModuleType

import pytest

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("valgrind") is None, reason="needs valgrind"),
]

ROOT = Path(__file__).resolve().parents[2]


def _load(name: str) -> ModuleType:
    alias = f"benchmarks_{name}_under_test"  # not on sys.path: loaded from its file
    spec = importlib.util.spec_from_file_location(alias, ROOT / "benchmarks" / f"{name}.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[alias] = module
    spec.loader.exec_module(module)
    return module


harness = _load("_harness")
instructions = _load("instructions")

#: A blocking server: answers each connection with a hello after *work* additions.
SERVER = """
import socket, sys
port, work = int(sys.argv[1]), int(sys.argv[2])
listener = socket.create_server(("127.0.0.1", port))
while True:
    connection = listener.accept()[0]
    connection.recv(4096)
    total = 0
    for number in range(work):
        total += number
    connection.sendall(b"HTTP/1.1 200 OK\\r\\ncontent-length: 5\\r\\n\\r\\nhello")
    connection.close()
"""


def per_connection(work: int) -> float:
    port = harness.free_port()
    return float(
        instructions.served_per_connection(
            [sys.executable, "-c", SERVER, str(port), str(work)],
            lambda count: harness.ask_closing(port, count, expect=b"hello"),
            ready=lambda process: harness.wait_for_port(port, process, 120.0),
            warmup=5,
            small=10,
            large=60,
        )
    )


def test_the_count_is_the_work_of_one_connection_without_start_up_or_stop() -> None:
    idle, busy = per_connection(0), per_connection(20_000)
    # The server's own start-up (the interpreter: tens of millions) is in neither figure,
    # and 20,000 additions in CPython cost far more than 20,000 instructions each time.
    assert 0 < idle < 1_000_000
    assert busy - idle > 20_000 * 10
    # The same server twice: the same count, to a small fraction.
    assert per_connection(0) == pytest.approx(idle, rel=0.05)
