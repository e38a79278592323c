"""Where ``Server`` and ``relays serve`` listen: URLs refused with advice, abstract UNIX
sockets, inherited sockets (``fd://``, systemd), and the startup line in each case."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from relays._cli import main
from relays.transports import parse_address
from relays_http import Server
from relays_http.testing import RELAYS_COMMAND


@pytest.mark.parametrize(
    ("bind", "advice"),
    [
        ("http://127.0.0.1:8000", "use 'tcp://127.0.0.1:8000'"),
        ("http://127.0.0.1:8000/", "use 'tcp://127.0.0.1:8000'"),
        ("https://[::1]:8443", "use 'tls://[::1]:8443' (with certfile= and keyfile=)"),
    ],
)
def test_an_http_url_is_refused_with_the_transport_address_to_use(bind: str, advice: str) -> None:
    with pytest.raises(ValueError, match=r"not a https?:// URL") as caught:
        Server(bind)
    assert advice in str(caught.value)


def test_relays_serve_says_it_too(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["serve", "--bind", "http://127.0.0.1:8000"]) == 2
    assert "use 'tcp://127.0.0.1:8000'" in capsys.readouterr().err


linux_only = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="abstract UNIX sockets are Linux's"
)


def abstract_name() -> str:
    return f"relays-test-{os.getpid()}-{uuid.uuid4().hex[:8]}"


def abstract_sockets() -> set[str]:
    """The abstract socket names this machine listens on (from /proc/net/unix)."""
    with open("/proc/net/unix") as table:
        return {line.split()[-1] for line in table if line.split()[-1].startswith("@")}


@pytest.mark.parametrize(
    ("address", "parsed"),
    [
        ("unix:@name", ("unix", "@name")),
        ("unix://@name", ("unix", "@name")),
        ("UNIX:@a/b", ("unix", "@a/b")),
        ("unix:///run/app.sock", ("unix", "/run/app.sock")),
    ],
)
def test_abstract_addresses_parse(address: str, parsed: tuple[str, str]) -> None:
    assert parse_address(address) == parsed


@linux_only
@pytest.mark.integration
@pytest.mark.parametrize("loop", ["asyncio", "uvloop"])
def test_serve_on_an_abstract_unix_socket_makes_no_file(tmp_path: Path, loop: str) -> None:
    if loop == "uvloop":
        pytest.importorskip("uvloop")
    name = abstract_name()
    command = [*RELAYS_COMMAND, "serve", "pages:Root", "--bind", f"unix:@{name}"]
    (tmp_path / "pages.py").write_text(PAGES)
    environment = {**os.environ, "RELAYS_UVLOOP": "1" if loop == "uvloop" else "0"}
    with subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=tmp_path,
        env=environment,
    ) as process:
        try:
            assert process.stdout is not None
            line = process.stdout.readline()
            assert line == f"relays: serving on unix:@{name} (Ctrl+C to stop)\n"
            assert f"@{name}" in abstract_sockets()
            assert set(os.listdir(tmp_path)) - {"__pycache__"} == {"pages.py"}
            assert ask(name) == b"root"
            if CURL is not None:
                answer = subprocess.run(
                    [CURL, "--silent", "--abstract-unix-socket", name, "http://relays/"],
                    capture_output=True,
                    timeout=20,
                    check=True,
                )
                assert answer.stdout == b"root"
        finally:
            process.send_signal(signal.SIGTERM)
            assert process.wait(10) == 0
    assert f"@{name}" not in abstract_sockets()
    assert set(os.listdir(tmp_path)) - {"__pycache__"} == {"pages.py"}


PAGES = """\
from relays_http import Controller


class Root(Controller):
    def index(self):
        return "root"
"""

CURL = shutil.which("curl")


def ask(name: str) -> bytes:
    """GET / over the abstract socket *name*; the body."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as client:
        client.settimeout(10)
        client.connect("\0" + name)
        client.sendall(b"GET / HTTP/1.1\r\nHost: relays\r\nConnection: close\r\n\r\n")
        answer = b""
        while chunk := client.recv(65536):
            answer += chunk
    return answer.partition(b"\r\n\r\n")[2]


class Started:
    """``relays serve`` started with *command*: its process and first line."""

    def __init__(self, process: subprocess.Popen[str], line: str) -> None:
        self.process = process
        self.line = line


@contextmanager
def started(command: list[str], cwd: Path, pass_fds: tuple[int, ...] = ()) -> Iterator[Started]:
    process = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=cwd,
        pass_fds=pass_fds,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert process.stdout is not None
        yield Started(process, process.stdout.readline())
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(15)
        for stream in (process.stdout, process.stderr):
            if stream is not None:
                stream.close()


def fetch_tcp(port: int) -> bytes:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=10) as response:
        body: bytes = response.read()
        return body


@pytest.fixture
def listening_tcp() -> Iterator[socket.socket]:
    """A listening TCP socket on loopback, as a supervisor would pass it down."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listening:
        listening.bind(("127.0.0.1", 0))
        listening.listen()
        listening.set_inheritable(True)
        yield listening


@pytest.mark.integration
@pytest.mark.parametrize("workers", ["1", "2"])
def test_serve_on_an_inherited_tcp_socket(
    tmp_path: Path, listening_tcp: socket.socket, workers: str
) -> None:
    (tmp_path / "pages.py").write_text(PAGES)
    fd = listening_tcp.fileno()
    port = listening_tcp.getsockname()[1]
    command = [*RELAYS_COMMAND, "serve", "pages:Root", "--bind", f"fd://{fd}"]
    with started([*command, "--workers", workers], tmp_path, (fd,)) as server:
        listening_tcp.close()  # the server holds its own copy
        if workers == "1":
            assert server.line == f"relays: serving on http://127.0.0.1:{port}/ (Ctrl+C to stop)\n"
        else:
            assert server.line.startswith(
                f"relays: serving on http://127.0.0.1:{port}/ with 2 workers (pid "
            )
        assert [fetch_tcp(port) for _ in range(4)] == [b"root"] * 4
        server.process.send_signal(signal.SIGTERM)
        assert server.process.wait(15) == 0


SYSTEMD_LIKE = """\
import os, sys
# What systemd does between fork and exec: the socket at 3, LISTEN_* for this pid.
os.dup2(int(sys.argv[1]), 3)
os.environ["LISTEN_PID"] = str(os.getpid())
os.environ["LISTEN_FDS"] = "1"
os.execv(sys.executable, [sys.executable, *sys.argv[2:]])
"""


@pytest.mark.integration
def test_systemd_socket_activation(tmp_path: Path, listening_tcp: socket.socket) -> None:
    (tmp_path / "pages.py").write_text(PAGES)
    fd = listening_tcp.fileno()
    port = listening_tcp.getsockname()[1]
    relays = RELAYS_COMMAND[1:]  # after the interpreter: -c "..."
    command = [sys.executable, "-c", SYSTEMD_LIKE, str(fd), *relays, "serve", "pages:Root"]
    with started(command, tmp_path, (fd,)) as server:
        listening_tcp.close()
        assert server.line == f"relays: serving on http://127.0.0.1:{port}/ (Ctrl+C to stop)\n"
        assert fetch_tcp(port) == b"root"


@pytest.mark.integration
def test_systemd_variables_for_another_process_are_ignored(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "pages.py").write_text(PAGES)
    command = [*RELAYS_COMMAND, "serve", "pages:Root", "--bind", "tcp://127.0.0.1:0"]
    monkeypatch.setenv("LISTEN_PID", "1")  # the variables a parent was given
    monkeypatch.setenv("LISTEN_FDS", "1")
    with started(command, tmp_path) as server:
        assert server.line.startswith("relays: serving on http://127.0.0.1:")


@pytest.mark.integration
def test_serve_on_an_inherited_unix_socket(tmp_path: Path) -> None:
    (tmp_path / "pages.py").write_text(PAGES)
    path = tmp_path / "app.sock"
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as listening:
        listening.bind(str(path))
        listening.listen()
        listening.set_inheritable(True)
        fd = listening.fileno()
        command = [*RELAYS_COMMAND, "serve", "pages:Root", "--bind", f"fd://{fd}"]
        with started(command, tmp_path, (fd,)) as server:
            assert server.line == f"relays: serving on unix://{path} (Ctrl+C to stop)\n"
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as client:
                client.settimeout(10)
                client.connect(str(path))
                client.sendall(b"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
                answer = b""
                while chunk := client.recv(65536):
                    answer += chunk
            assert answer.endswith(b"\r\n\r\nroot")
            server.process.send_signal(signal.SIGTERM)
            assert server.process.wait(15) == 0
    assert path.exists(), "an inherited socket's file is not the server's to remove"


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: None, "no socket there"),
        (lambda: socket.socket(socket.AF_INET, socket.SOCK_STREAM), "not a listening stream"),
        (lambda: socket.socket(socket.AF_INET, socket.SOCK_DGRAM), "not a listening stream"),
    ],
)
def test_a_descriptor_that_cannot_serve_is_refused(
    make: Any, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    made = make()
    fd = made.fileno() if made is not None else 1000
    try:
        assert main(["serve", "--bind", f"fd://{fd}"]) == 2
        assert message in capsys.readouterr().err
    finally:
        if made is not None:
            made.close()


def test_fd_addresses_parse() -> None:
    assert parse_address("fd://3") == ("fd", 3)
    with pytest.raises(ValueError, match="descriptor number"):
        parse_address("fd://three")
