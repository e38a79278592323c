"""``relays.testing.start_example`` and the ``run_example`` fixture, on small programs."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from relays.testing import ExampleFailed, RunExample, start_example

#: A program that listens on the port of its first argument until SIGTERM.
LISTENER = """
import signal, socket, sys
port = int(sys.argv[1].rsplit(":", 1)[1])
server = socket.create_server(("127.0.0.1", port))
signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
print("listening", flush=True)
while True:
    server.accept()[0].close()
"""


def program(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "program.py"
    path.write_text(text)
    return path


def test_it_returns_once_the_port_accepts_and_stops_cleanly(
    run_example: RunExample, tmp_path: Path
) -> None:
    example = run_example(program(tmp_path, LISTENER), "tcp://127.0.0.1:{0}")
    socket.create_connection(("127.0.0.1", example.port), timeout=5).close()
    assert example.url == f"http://127.0.0.1:{example.port}/"
    assert example.stop() == b""
    assert example.stdout == b"listening\n"


def test_ports_are_written_into_the_arguments(run_example: RunExample, tmp_path: Path) -> None:
    two = LISTENER.replace(
        'server = socket.create_server(("127.0.0.1", port))',
        'server = socket.create_server(("127.0.0.1", port))\n'
        'other = socket.create_server(("127.0.0.1", int(sys.argv[2])))',
    )
    example = run_example(program(tmp_path, two), "tcp://127.0.0.1:{0}", "{1}", ports=2)
    assert len(set(example.ports)) == 2
    for port in example.ports:
        socket.create_connection(("127.0.0.1", port), timeout=5).close()


def test_a_program_that_dies_before_listening(tmp_path: Path) -> None:
    dying = program(tmp_path, "import sys\nsys.exit('no config file')\n")
    with pytest.raises(ExampleFailed, match=r"status 1 before it listened.*no config file"):
        start_example(dying, "tcp://127.0.0.1:{0}")


def test_a_traceback_is_a_failure_unless_expected(tmp_path: Path) -> None:
    noisy = LISTENER.replace(
        'print("listening", flush=True)',
        'sys.stderr.write("Traceback (most recent call last):\\n  logged on purpose\\n")',
    )
    example = start_example(program(tmp_path, noisy), "tcp://127.0.0.1:{0}")
    with pytest.raises(ExampleFailed, match=r"status 0.*logged on purpose"):
        example.stop()
    again = start_example(program(tmp_path, noisy), "tcp://127.0.0.1:{0}")
    assert b"logged on purpose" in again.stop(tracebacks=True)
