"""The examples in ``examples/asgi/`` run, answer real requests and stop on SIGTERM."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from relays_http.testing import run_relays

pytestmark = pytest.mark.integration

EXAMPLES = Path(__file__).parents[3] / "examples" / "asgi"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def example(name: str) -> Iterator[str]:
    """Run ``examples/asgi/<name>`` on a free port; yield its URL; SIGTERM must end it cleanly."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, str(EXAMPLES / name), f"tcp://127.0.0.1:{port}"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError(process.communicate(timeout=5)) from None
                time.sleep(0.05)
        yield f"http://127.0.0.1:{port}/"
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=10)
        assert process.returncode == 0, stderr
        assert b"Traceback" not in stderr, stderr
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate(timeout=10)


def fetch(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=5) as response:
        body: bytes = response.read()
        return body


def test_the_fastapi_example() -> None:
    with example("fastapi_app.py") as url:
        assert json.loads(fetch(url + "items/3?q=x")) == {"item_id": 3, "q": "x"}


def test_the_fastapi_example_under_relays_serve() -> None:
    arguments = ("serve", "fastapi_app:app", "--bind", "tcp://127.0.0.1:0")
    with run_relays(*arguments, cwd=EXAMPLES) as (_, url):
        assert json.loads(fetch(url + "items/7")) == {"item_id": 7, "q": None}


def test_the_mounted_example() -> None:
    with example("mounted.py") as url:
        assert fetch(url) == b"relays here; the API is under /api"
        answer = json.loads(fetch(url + "api/hello/ann"))
        assert answer == {"hello": "ann", "url": url + "api/hello/ann"}
        assert fetch(url + "api/count") == b"0\n1\n2\n3\n4\n"
