"""daemonize() and Daemon: a real double fork, a pidfile, stale and live pidfiles."""

from __future__ import annotations

import json
import os
import select
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from relays_app import AlreadyRunning, Daemon, DaemonError, daemonize, read_pidfile

#: Seconds a test waits for a daemon to report or go away before it fails.
PATIENCE = 20.0

REPORTER = textwrap.dedent(
    """
    import json, os, socket, sys, time
    from relays_app import daemonize
    pidfile, directory, report_to = sys.argv[1:4]
    daemonize(pidfile=pidfile, chdir=directory, umask=0o027)
    facts = {
        "pid": os.getpid(), "sid": os.getsid(0), "cwd": os.getcwd(),
        "umask": os.umask(0o027), "ppid": os.getppid(),
        "stdin_is_null": os.path.samestat(os.fstat(0), os.stat(os.devnull)),
    }
    with socket.socket(socket.AF_UNIX) as reporter:
        reporter.connect(report_to)
        reporter.sendall(json.dumps(facts).encode())
        reporter.recv(1)  # hold on until the test read the facts
    """
)


def wait_gone(pid: int) -> None:
    """Wait until *pid* (not our child) exits: its pidfd becomes readable then."""
    try:
        descriptor = os.pidfd_open(pid)
    except ProcessLookupError:
        return
    try:
        readable, _, _ = select.select([descriptor], [], [], PATIENCE)
    finally:
        os.close(descriptor)
    assert readable, f"process {pid} did not exit within {PATIENCE} s"


def test_a_missing_pidfile_names_no_process(tmp_path: Path) -> None:
    assert read_pidfile(tmp_path / "nothing.pid") is None


def test_a_pidfile_of_a_dead_process_is_stale(tmp_path: Path) -> None:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    pidfile = tmp_path / "stale.pid"
    pidfile.write_text(f"{child.pid}\n")
    assert read_pidfile(pidfile) is None


def test_a_pidfile_of_a_live_process_names_it(tmp_path: Path) -> None:
    pidfile = tmp_path / "live.pid"
    pidfile.write_text(f"{os.getppid()}\n")
    assert read_pidfile(pidfile) == os.getppid()


def test_garbage_in_a_pidfile_names_no_process(tmp_path: Path) -> None:
    pidfile = tmp_path / "garbage.pid"
    pidfile.write_text("not a number")
    assert read_pidfile(pidfile) is None


def test_daemonize_refuses_a_live_pidfile_before_forking(tmp_path: Path) -> None:
    pidfile = tmp_path / "taken.pid"
    pidfile.write_text(f"{os.getppid()}\n")
    with pytest.raises(AlreadyRunning, match=f"process {os.getppid()}") as raised:
        daemonize(pidfile=pidfile)
    assert str(pidfile) in str(raised.value)


def test_daemonize_refuses_a_directory_that_is_not_there(tmp_path: Path) -> None:
    with pytest.raises(DaemonError, match="nowhere"):
        daemonize(chdir=tmp_path / "nowhere")
    with pytest.raises(DaemonError, match="does not exist"):
        daemonize(pidfile=tmp_path / "nowhere" / "x.pid")


@pytest.mark.integration
def test_a_real_daemon_detaches_writes_its_pidfile_and_removes_it(tmp_path: Path) -> None:
    pidfile = tmp_path / "daemon.pid"
    pidfile.write_text("999999999\n")  # stale: no such process
    address = str(tmp_path / "report.sock")
    with socket.socket(socket.AF_UNIX) as listener:
        listener.bind(address)
        listener.listen(1)
        listener.settimeout(PATIENCE)
        launcher = subprocess.run(
            [sys.executable, "-c", REPORTER, str(pidfile), str(tmp_path), address],
            timeout=PATIENCE,
            check=False,
        )
        assert launcher.returncode == 0  # the first parent exits at once
        connection, _ = listener.accept()
        with connection:
            connection.settimeout(PATIENCE)
            facts = json.loads(connection.recv(65536))
            assert read_pidfile(pidfile) == facts["pid"]
            connection.sendall(b"!")
    assert facts["sid"] != os.getsid(0)  # a session of its own, no terminal
    assert facts["pid"] != facts["sid"]  # and not its leader: it can never get one
    assert facts["cwd"] == str(tmp_path)
    assert facts["umask"] == 0o027
    assert facts["stdin_is_null"]
    wait_gone(facts["pid"])
    assert not pidfile.exists()


async def test_the_daemon_component_refuses_a_running_tree() -> None:
    from relays.testing import Manager

    app = Manager()
    async with app:
        with pytest.raises(DaemonError, match="before the tree runs"):
            app += Daemon()
