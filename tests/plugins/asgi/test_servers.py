"""``examples/asgi/relays_site.py`` under real ASGI servers: uvicorn, hypercorn and granian.

Each server is started by the test on a free loopback port and stopped by its PID.
Controllers, streaming, sessions (a cookie kept between two requests), XML-RPC and the
lifespan that starts and stops the tree all go through the server's own HTTP stack.
"""

from __future__ import annotations

import http.cookiejar
import importlib.util
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import xmlrpc.client
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

EXAMPLES = Path(__file__).parents[3] / "examples" / "asgi"
TIMEOUT = 10


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def command(server: str, port: int) -> list[str]:
    target = "relays_site:app"
    if server == "uvicorn":
        return [
            sys.executable,
            "-m",
            "uvicorn",
            target,
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ]
    if server == "hypercorn":
        return [sys.executable, "-m", "hypercorn", target, "--bind", f"127.0.0.1:{port}"]
    return [
        sys.executable,
        "-m",
        "granian",
        "--interface",
        "asgi",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        target,
    ]


@contextmanager
def running(server: str) -> Iterator[str]:
    """Start *server* with the example; yield its URL; stop it by PID (SIGTERM)."""
    if importlib.util.find_spec(server) is None:
        pytest.skip(f"{server} is not installed (pip install {server})")
    port = free_port()
    process = subprocess.Popen(
        command(server, port),
        cwd=EXAMPLES,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError(process.communicate(timeout=5)) from None
                time.sleep(0.05)
        yield f"http://127.0.0.1:{port}/"
        os.kill(process.pid, signal.SIGTERM)
        _, errors = process.communicate(timeout=TIMEOUT)
        # The lifespan shutdown stopped the tree cleanly: nothing failed on the way out.
        assert b"Traceback" not in errors, errors.decode(errors="replace")
    finally:
        if process.poll() is None:
            os.kill(process.pid, signal.SIGKILL)
            process.communicate(timeout=TIMEOUT)


@pytest.mark.parametrize("server", ["uvicorn", "hypercorn", "granian"])
def test_the_relays_site_under_an_asgi_server(server: str) -> None:
    with running(server) as url:
        opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar())
        )

        def fetch(path: str) -> tuple[int, str, bytes]:
            with opener.open(url + path, timeout=TIMEOUT) as response:
                kind = response.headers.get("content-type", "")
                return response.status, kind, response.read()

        assert fetch("") == (
            200,
            "text/html; charset=utf-8",
            b"Hello from relays, under an ASGI server",
        )
        status, kind, body = fetch("hello?name=ann")
        assert (status, kind, json.loads(body)) == (
            200,
            "application/json",
            {"greeting": "Hello, ann!"},
        )
        assert fetch("count")[2] == b"0\n1\n2\n3\n4\n"
        assert fetch("visits")[2] == b"visit number 1"
        assert fetch("visits")[2] == b"visit number 2"  # the session cookie came back
        with pytest.raises(urllib.error.HTTPError) as missing:
            fetch("missing")
        missing.value.close()
        assert missing.value.code == 404
        with xmlrpc.client.ServerProxy(url + "RPC2") as proxy:
            assert proxy.math.add(2, 3) == 5


@pytest.mark.parametrize("server", ["uvicorn", "hypercorn"])
def test_relays_websockets_under_an_asgi_server(server: str) -> None:
    from websockets.exceptions import ConnectionClosedOK, InvalidStatus
    from websockets.sync.client import connect

    with running(server) as url:
        address = url.replace("http://", "ws://")
        with connect(address + "echo", subprotocols=["echo"], open_timeout=TIMEOUT) as sock:  # type: ignore[list-item]
            assert sock.subprotocol == "echo"
            sock.send("hello")
            assert sock.recv(timeout=TIMEOUT) == "hello"
            sock.send(b"\x00\x01")
            assert sock.recv(timeout=TIMEOUT) == b"\x00\x01"
            sock.send("x" * 100_000)
            assert sock.recv(timeout=TIMEOUT) == "x" * 100_000
        assert sock.close_code == 1000
        # Not a WebSocket of the tree's: refused at the handshake.
        with pytest.raises(InvalidStatus) as refused:
            connect(address + "hello", open_timeout=TIMEOUT)
        assert refused.value.response.status_code == 403
        with connect(address + "echo", open_timeout=TIMEOUT) as sock:
            sock.send("still serving")
            assert sock.recv(timeout=TIMEOUT) == "still serving"
        with pytest.raises(ConnectionClosedOK):
            sock.recv(timeout=TIMEOUT)
