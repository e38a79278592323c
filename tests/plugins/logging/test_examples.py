"""``examples/logging/logged_app.py``: access lines in the file, one traceback for many 500s."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

EXAMPLE = Path(__file__).parents[3] / "examples" / "logging" / "logged_app.py"
#: Seconds for any one step (start, a request, the stop).
WITHIN = 15


@pytest.mark.parametrize("debug", [False, True], ids=["plain", "debug"])
def test_the_logged_app(tmp_path: Path, debug: bool) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    access = tmp_path / "access.log"
    arguments = [f"tcp://127.0.0.1:{port}", str(access), *(["--debug"] if debug else [])]
    server = subprocess.Popen(
        [sys.executable, str(EXAMPLE), *arguments],
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
        url = f"http://127.0.0.1:{port}/"
        with urllib.request.urlopen(url, timeout=WITHIN) as reply:
            assert reply.read() == b"hello"
        for _ in range(20):
            with pytest.raises(urllib.error.HTTPError) as caught:
                urllib.request.urlopen(url + "fail", timeout=WITHIN)
            assert caught.value.code == 500
            caught.value.close()
        server.send_signal(signal.SIGTERM)
        _, stderr = server.communicate(timeout=WITHIN)
        assert server.returncode == 0, stderr
    finally:
        if server.poll() is None:
            server.kill()
            server.communicate(timeout=WITHIN)
    lines = [json.loads(line) for line in access.read_text().splitlines()]
    assert [line["status"] for line in lines] == [200] + [500] * 20
    errors = stderr.decode()
    assert "RuntimeError raised 19 more times" in errors
    if debug:  # the debugger shows every event, errors and all: noisy on purpose
        assert "DEBUG:relays.debug:" in errors
    else:
        assert errors.count("Traceback") == 1
