"""A server that cannot listen exits at once, non-zero, naming the address and the cause."""

from __future__ import annotations

import errno
import socket
import subprocess
import sys
from collections.abc import Iterator

import pytest

from relays.testing import Manager, Recorder
from relays_http import BaseServer, BindError, Server
from relays_http.testing import RELAYS_COMMAND, serve_in_thread

pytestmark = pytest.mark.integration

#: Seconds a process that cannot listen gets to exit (it should take well under one).
EXIT_WITHIN = 20
#: A bound no test should reach: a helper that waited it out instead of raising the bind
#: error at once would raise TimeoutError, not BindError.
NEVER = 120.0


@pytest.fixture
def taken_port() -> Iterator[int]:
    """A loopback port another socket listens on."""
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        yield holder.getsockname()[1]


async def test_wait_ready_raises_bind_error_and_the_tree_stops(taken_port: int) -> None:
    server = BaseServer(f"tcp://127.0.0.1:{taken_port}")
    recorder = Recorder()
    async with Manager() + server + recorder:
        with pytest.raises(BindError) as caught:
            await server.wait_ready()
        await recorder.until("stopped")  # the server stopped the tree itself
    error = caught.value
    assert error.errno == errno.EADDRINUSE
    assert isinstance(error, OSError)
    assert f"127.0.0.1:{taken_port}" in str(error)
    assert "another process listens there" in str(error)
    assert server.bind_error is error
    assert not server.running


def test_serve_in_thread_raises_the_bind_error_at_once(taken_port: int) -> None:
    server = BaseServer(f"tcp://127.0.0.1:{taken_port}")
    with (
        pytest.raises(BindError) as caught,
        serve_in_thread(server, timeout=NEVER),
    ):
        pytest.fail("serve_in_thread yielded a server that cannot listen")
    assert caught.value.errno == errno.EADDRINUSE
    assert f"127.0.0.1:{taken_port}" in str(caught.value)
    assert not server.running


def test_server_run_raises_bind_error(taken_port: int) -> None:
    # In a process of its own: run() installs signal handlers and owns its loop.
    code = (
        "import sys\n"
        "from relays_http import Server, BindError\n"
        "try:\n"
        f"    Server('tcp://127.0.0.1:{taken_port}').run()\n"
        "except BindError as error:\n"
        "    print(error.errno, error, file=sys.stderr)\n"
        "    sys.exit(3)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=EXIT_WITHIN
    )
    assert result.returncode == 3
    assert f"{errno.EADDRINUSE} cannot listen on tcp://127.0.0.1:{taken_port}" in result.stderr


@pytest.mark.parametrize(
    "arguments",
    [("serve", "relays_http._demo:make_demo"), ("demo",), ("demo", "--workers", "2")],
    ids=["serve", "demo", "workers"],
)
def test_the_command_line_exits_with_a_message(
    taken_port: int, arguments: tuple[str, ...]
) -> None:
    bind = f"tcp://127.0.0.1:{taken_port}"
    result = subprocess.run(
        [*RELAYS_COMMAND, *arguments, "--bind", bind],
        capture_output=True,
        text=True,
        timeout=EXIT_WITHIN,
    )
    assert result.returncode == 1
    assert f"error: cannot listen on {bind}: " in result.stderr
    assert "address already in use" in result.stderr.lower()
    assert "Traceback" not in result.stderr
    assert "serving on" not in result.stdout


def test_a_port_shared_with_so_reuseport_counts_as_taken() -> None:
    """An earlier ``--workers`` server still running is not joined by a new start."""
    if not hasattr(socket, "SO_REUSEPORT"):
        pytest.skip("SO_REUSEPORT is not available here")
    with socket.socket() as holder:
        holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        bind = f"tcp://127.0.0.1:{holder.getsockname()[1]}"
        result = subprocess.run(
            [*RELAYS_COMMAND, "demo", "--workers", "2", "--bind", bind],
            capture_output=True,
            text=True,
            timeout=EXIT_WITHIN,
        )
    assert result.returncode == 1
    assert "address already in use" in result.stderr.lower()


def test_bind_error_messages_say_what_to_do() -> None:
    denied = BindError(("0.0.0.0", 80), PermissionError(errno.EACCES, "Permission denied"))
    assert str(denied) == (
        "cannot listen on 0.0.0.0:80: Permission denied "
        "(ports below 1024 need privileges: choose a port of 1024 or more)"
    )
    other = BindError("unix:///nowhere/app.sock", FileNotFoundError(2, "No such file"))
    assert str(other) == "cannot listen on unix:///nowhere/app.sock: No such file"
    assert Server  # the dispatcher-carrying server raises the same (see above)
