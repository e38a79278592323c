"""``serve_in_thread`` and ``run_relays`` wait on the server's own signal, bounded.

``serve_in_thread`` blocks in :meth:`BaseServer.wait_listening`, which the server
releases the moment the listener's fate is known: its transport's ``ready``, a bind
error, or the tree stopping first. No test here times anything: a helper that waited out
its bound instead of raising at once would raise :class:`TimeoutError`, not the error the
test expects. A server that cannot listen: ``test_bind_failure.py``.
"""

from __future__ import annotations

import socket
import sys
from pathlib import Path

import pytest

from relays import BaseComponent
from relays_http import BaseServer, Server
from relays_http import testing as http_testing
from relays_http.testing import exchange_raw, parse_responses, run_relays, serve_in_thread

pytestmark = pytest.mark.integration

#: A bound no test should reach: reaching it means the helper did not raise at once.
NEVER = 120.0


def test_serve_in_thread_returns_once_the_port_accepts() -> None:
    with serve_in_thread(Server("tcp://127.0.0.1:0"), timeout=NEVER) as server:
        assert server.port is not None
        # No retry: the first connection attempt must succeed.
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as client:
            client.sendall(b"GET /nothing HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            assert client.recv(64).startswith(b"HTTP/1.1 404")


def test_wait_listening_names_what_it_waited_for_when_it_times_out() -> None:
    server = BaseServer("tcp://127.0.0.1:0")  # never started: nothing will come
    with pytest.raises(TimeoutError, match=r"127\.0\.0\.1:0 within 0\.01 s .*ready event"):
        server.wait_listening(timeout=0.01)


def test_wait_listening_raises_when_the_tree_stops_before_it_listens() -> None:
    # A transport that never reports ``ready``: only the tree's stop ends the wait.
    server = BaseServer(transport=BaseComponent(channel="web"))
    server.start()
    server.stop()
    with pytest.raises(RuntimeError, match="stopped before it listened"):
        server.wait_listening(timeout=NEVER)


def test_wait_listening_returns_the_address_to_every_later_caller() -> None:
    with serve_in_thread(BaseServer("tcp://127.0.0.1:0"), timeout=NEVER) as server:
        assert server.wait_listening(timeout=NEVER) == server.address


def test_run_relays_raises_at_once_when_the_process_exits_first(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    command = [sys.executable, "-c", "import sys; sys.exit('cannot start: no app given')"]
    monkeypatch.setattr(http_testing, "RELAYS_COMMAND", command)
    with (
        pytest.raises(AssertionError, match="cannot start: no app given"),
        run_relays("serve", start_timeout=NEVER),
    ):
        pytest.fail("run_relays yielded a process that exited")


def test_run_relays_names_what_it_waited_for_when_nothing_comes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    command = [sys.executable, "-c", "import time; time.sleep(600)"]  # silent until stopped
    monkeypatch.setattr(http_testing, "RELAYS_COMMAND", command)
    with (
        pytest.raises(TimeoutError, match=r"serve printed no line within 0\.2 s .*its URL"),
        run_relays("serve", start_timeout=0.2, timeout=NEVER),
    ):
        pytest.fail("run_relays yielded a process that printed nothing")


@pytest.mark.parametrize("family", ["tcp", "unix"])
def test_exchange_raw_returns_all_the_server_sent_until_it_closed(
    family: str, tmp_path: Path
) -> None:
    bind = f"unix://{tmp_path / 'app.sock'}" if family == "unix" else "tcp://127.0.0.1:0"
    request = b"GET /a HTTP/1.1\r\nHost: x\r\n\r\n"
    request += b"GET /b HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    with serve_in_thread(Server(bind), timeout=NEVER) as server:
        address = server.address if family == "tcp" else tmp_path / "app.sock"
        received = exchange_raw(address, request, timeout=NEVER)
    assert [response.status for response in parse_responses(received)] == [404, 404]
