"""examples/circuits/daemon_web.py: daemonized, pidfile, and (as root) no longer root."""

from __future__ import annotations

import os
import pwd
import select
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "circuits" / "daemon_web.py"
PATIENCE = 20.0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_listening(port: int) -> None:
    """Connect until the daemon accepts (bounded): its listening is what we wait for."""
    deadline = time.monotonic() + PATIENCE
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=PATIENCE).close()
            return
        except ConnectionRefusedError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def wait_gone(pid: int) -> None:
    try:
        descriptor = os.pidfd_open(pid)
    except ProcessLookupError:
        return
    try:
        readable, _, _ = select.select([descriptor], [], [], PATIENCE)
    finally:
        os.close(descriptor)
    assert readable, f"process {pid} did not exit within {PATIENCE} s"


@pytest.fixture
def shared_directory() -> Iterator[Path]:
    """A directory any user may write: the daemon removes its pidfile after dropping root."""
    directory = Path(tempfile.mkdtemp(prefix="relays-daemon-"))
    directory.chmod(0o777)
    try:
        yield directory
    finally:
        shutil.rmtree(directory, ignore_errors=True)


@pytest.mark.integration
def test_the_daemon_serves_from_the_background_and_cleans_up(shared_directory: Path) -> None:
    port = free_port()
    pidfile = shared_directory / "web.pid"
    arguments = ["--bind", f"tcp://127.0.0.1:{port}", "--pidfile", str(pidfile)]
    as_root = os.geteuid() == 0
    if as_root:
        arguments += ["--user", "nobody"]
    launcher = subprocess.run([sys.executable, str(EXAMPLE), *arguments], timeout=PATIENCE)
    assert launcher.returncode == 0  # the foreground process returns at once
    wait_listening(port)
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=PATIENCE) as response:
        facts = dict(part.split("=", 1) for part in response.read().decode().split())
    pid = int(facts["pid"])
    try:
        assert pidfile.read_text().strip() == str(pid)
        assert facts["cwd"] == "/"
        expected_uid = pwd.getpwnam("nobody").pw_uid if as_root else os.getuid()
        assert int(facts["uid"]) == expected_uid
    finally:
        os.kill(pid, 15)
        wait_gone(pid)
    assert not pidfile.exists()


@pytest.mark.integration
def test_relays_serve_daemon_runs_in_the_background(shared_directory: Path) -> None:
    """``relays serve --daemon --pidfile`` (and ``--user nobody`` as root) end to end."""
    port = free_port()
    pidfile = shared_directory / "serve.pid"
    hello = Path(__file__).resolve().parents[3] / "examples" / "web" / "hello.py"
    command = [
        sys.executable, "-m", "relays._cli", "serve", f"{hello}:Root",
        "--bind", f"tcp://127.0.0.1:{port}", "--daemon", "--pidfile", str(pidfile),
    ]  # fmt: skip
    if os.geteuid() == 0:
        command += ["--user", "nobody"]
    launcher = subprocess.run(command, timeout=PATIENCE, capture_output=True, text=True)
    assert launcher.returncode == 0, launcher.stderr
    wait_listening(port)
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=PATIENCE) as response:
        assert response.status == 200
    pid = int(pidfile.read_text())
    try:
        with open(f"/proc/{pid}/status") as status:
            uid = next(line.split()[1] for line in status if line.startswith("Uid:"))
        expected = pwd.getpwnam("nobody").pw_uid if os.geteuid() == 0 else os.getuid()
        assert int(uid) == expected
    finally:
        os.kill(pid, 15)
        wait_gone(pid)
    assert not pidfile.exists()
