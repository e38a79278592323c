"""Where ``Server`` and ``relays serve`` listen: URLs refused with advice, abstract UNIX
sockets, inherited sockets (``fd://``, systemd), and the startup line in each case."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import uuid
from pathlib import Path

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
