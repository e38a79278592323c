"""``benchmarks/_harness.py``: how a server says it is ready, how it is asked, how it stops.

The servers here are a few lines of Python run with ``python -c``; nothing is pinned.
"""

from __future__ import annotations

import importlib.util
import math
import os
import subprocess
import sys
import time
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _load_harness() -> ModuleType:
    name = "benchmarks_harness_under_test"  # not on sys.path: loaded from its file
    spec = importlib.util.spec_from_file_location(name, ROOT / "benchmarks" / "_harness.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


harness = _load_harness()


def python(code: str) -> list[str]:
    return [sys.executable, "-c", code]


#: A server that listens on a port it chose, prints it, and serves until stopped.
LISTENS_AND_PRINTS_ITS_PORT = """
import socket, sys
listener = socket.create_server(("127.0.0.1", 0))
print(listener.getsockname()[1], flush=True)
while True:
    listener.accept()[0].close()
"""


def test_a_server_that_prints_its_port_is_ready_once_the_port_accepts() -> None:
    with harness.ServerProcess(
        "printer", python(LISTENS_AND_PRINTS_ITS_PORT), port=None
    ) as server:
        server.wait_listening()
        import socket

        socket.create_connection(("127.0.0.1", server.port), timeout=10).close()


def test_a_server_with_a_ready_line_is_ready_when_it_prints_it() -> None:
    code = "import sys, time; print('ready', flush=True); sys.stdin.readline()"
    with harness.ServerProcess(
        "broker client", python(code), port=None, ready_line="ready"
    ) as server:
        server.wait_listening()
        with pytest.raises(RuntimeError, match="without a port"):
            _ = server.port


def test_a_server_that_prints_another_line_is_not_ready() -> None:
    code = "import sys; print('starting', flush=True); sys.stdin.readline()"
    with (
        harness.ServerProcess("talker", python(code), port=None, ready_line="ready") as server,
        pytest.raises(harness.ServerDidNotStart, match="'starting', not 'ready'"),
    ):
        server.wait_listening()


def test_a_server_that_exits_before_it_is_ready_fails_at_once_with_its_error() -> None:
    # The bound is an hour: had the harness waited it out, the test would hang, not pass.
    code = "import sys; sys.exit('cannot bind: address in use')"
    with (
        harness.ServerProcess("failing", python(code), port=None, ready_line="ready") as server,
        pytest.raises(harness.ServerDidNotStart, match="cannot bind: address in use"),
    ):
        server.wait_listening(timeout=3600)


def test_a_server_told_its_port_that_exits_fails_at_once_with_its_error() -> None:
    code = "import sys; sys.exit('no such option')"
    port = harness.free_port()
    with (
        harness.ServerProcess("failing", python(code), port=port) as server,
        pytest.raises(harness.ServerDidNotStart, match="no such option"),
    ):
        server.wait_listening(timeout=3600)


def test_a_server_that_exits_before_printing_its_port_fails_in_the_constructor() -> None:
    with pytest.raises(harness.ServerDidNotStart, match=r"exited: .*bad configuration"):
        harness.ServerProcess(
            "failing", python("import sys; sys.exit('bad configuration')"), port=None
        )


def test_a_server_is_asked_by_a_line_and_answers_with_one() -> None:
    code = """
import sys
print(4321, flush=True)
for line in sys.stdin:
    print(line.strip().upper(), flush=True)
"""
    with harness.ServerProcess("echo", python(code), port=None) as server:
        assert server.port == 4321
        assert server.ask("most?") == "MOST?"
        assert server.ask("again") == "AGAIN"


def test_stop_without_grace_kills_a_server_that_ignores_sigterm() -> None:
    code = """
import signal, sys
signal.signal(signal.SIGTERM, signal.SIG_IGN)
print('ready', flush=True)
sys.stdin.readline()
sys.stdin.readline()
"""
    server = harness.ServerProcess("stubborn", python(code), port=None, ready_line="ready")
    server.wait_listening()
    server.stop(grace=0)
    assert server.process.returncode == -9


def test_what_a_server_writes_on_stderr_is_kept_in_a_file_not_a_pipe() -> None:
    # 1 MiB on stderr would fill a pipe nobody reads and block the server before "ready".
    code = "import sys; sys.stderr.write('x' * 2**20 + 'the end'); print('ready', flush=True)"
    with harness.ServerProcess("chatty", python(code), port=None, ready_line="ready") as server:
        server.wait_listening()
        server.process.wait(60)
        assert server.errors().endswith("the end")


def test_run_client_returns_the_output_and_reads_the_last_line_as_json() -> None:
    run = harness.run_client(python("print('warming up'); print('{\"rate\": 5}')"), timeout=60)
    assert run.figures() == {"rate": 5}
    assert math.isnan(run.server_cpu_seconds)


def test_run_client_reads_the_server_cpu_around_the_client() -> None:
    run = harness.run_client(python("pass"), server_pid=os.getpid(), timeout=60)
    assert run.server_cpu_seconds >= 0


#: A client that starts a child of its own, says the child's pid, then never ends.
HANGING_PARENT = """
import subprocess, sys, time
child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
print(child.pid, flush=True)
time.sleep(600)
"""


def test_run_client_on_a_timeout_stops_the_client_and_its_children() -> None:
    with pytest.raises(subprocess.TimeoutExpired) as expired:
        harness.run_client(python(HANGING_PARENT), timeout=2)
    child = int(str(expired.value.stdout).split()[0])
    # Killed with its group; init reaps the orphan, so wait (bounded) until it has.
    for _ in range(500):
        if not os.path.exists(f"/proc/{child}") or _state(child) == "Z":
            break
        time.sleep(0.01)
    else:
        os.kill(child, 9)
        raise AssertionError("the client's child outlived the timeout")


def test_run_client_raises_for_a_failing_client() -> None:
    with pytest.raises(subprocess.CalledProcessError):
        harness.run_client(python("import sys; sys.exit(3)"), timeout=60)


def _state(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return "gone"


def test_memory_is_read_for_a_process_and_its_children() -> None:
    assert harness.rss_bytes(os.getpid()) > 0


@pytest.mark.skipif(harness.find_compiler() is None, reason="no C compiler (apt-get install gcc)")
def test_the_c_floor_is_built_and_answers_a_hello(tmp_path: Path) -> None:
    program = harness.build_c_floor(str(tmp_path))
    port = harness.free_port()
    with harness.ServerProcess("c-floor", [program, str(port)], port=port) as server:
        server.wait_listening()
        import socket

        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            answer = b""
            while chunk := sock.recv(65536):
                answer += chunk
    assert answer.startswith(b"HTTP/1.1 200 OK\r\n")
    assert answer.endswith(b"Hello, World!")


def test_without_a_compiler_the_c_floor_says_what_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CC", "no-such-compiler-here")
    with pytest.raises(RuntimeError, match="C compiler"):
        harness.build_c_floor(str(tmp_path))


#: A server that answers every connection with its first argument, then closes it, and
#: prints how many connections it answered when its standard input ends.
ANSWERS_AND_CLOSES = """
import socket, sys, threading
listener = socket.create_server(("127.0.0.1", 0))
print(listener.getsockname()[1], flush=True)
answered = 0
def serve():
    global answered
    while True:
        sock = listener.accept()[0]
        request = b""
        while b"\\r\\n\\r\\n" not in request:
            request += sock.recv(65536)
        answered += 1  # before the answer: counted once the client has it
        sock.sendall(sys.argv[1].encode())
        sock.close()
threading.Thread(target=serve, daemon=True).start()
sys.stdin.readline()
print(answered, flush=True)
"""


def test_ask_closing_asks_once_per_connection_and_checks_each_answer() -> None:
    hello = "HTTP/1.1 200 OK\r\ncontent-length: 5\r\nconnection: close\r\n\r\nhello"
    with harness.ServerProcess("hello", [*python(ANSWERS_AND_CLOSES), hello], port=None) as server:
        harness.ask_closing(server.port, 3, expect=b"hello")
        assert server.ask("") == "3"


@pytest.mark.parametrize(
    "answer",
    ["HTTP/1.1 404 Not Found\r\ncontent-length: 5\r\n\r\nhello", "HTTP/1.1 200 OK\r\n\r\nbye"],
)
def test_ask_closing_refuses_an_answer_that_is_not_the_one_expected(answer: str) -> None:
    with (
        harness.ServerProcess("other", [*python(ANSWERS_AND_CLOSES), answer], port=None) as server,
        pytest.raises(harness.UnexpectedAnswer, match="unexpected answer"),
    ):
        harness.ask_closing(server.port, 2, expect=b"hello")


def _wrk(rate: float, cpu: float, system: float = float("nan")) -> object:
    return harness.WrkResult(
        rate=rate,
        requests=100,
        errors=0,
        p99_ms=1.0,
        megabytes_per_second=0.0,
        cpu_us_per_request=cpu,
        system_us_per_request=system,
    )


def test_the_best_of_two_runs_is_the_faster_rate_with_the_least_cpu() -> None:
    fast, thrifty = _wrk(2000.0, 30.0, 10.0), _wrk(1000.0, 20.0, 8.0)
    for best in (fast.best(thrifty), thrifty.best(fast)):
        assert (best.rate, best.cpu_us_per_request, best.system_us_per_request) == (2000, 20, 8)


def test_a_run_without_cpu_figures_keeps_the_faster_runs_own() -> None:
    best = _wrk(1000.0, float("nan")).best(_wrk(2000.0, float("nan")))
    assert best.rate == 2000
    assert math.isnan(best.cpu_us_per_request)


#: A parent that starts a child which spins 0.3 s of CPU, says so, then waits.
SPINNING_CHILD = """
import subprocess, sys
child = (
    "import time\\n"
    "end = time.process_time() + 0.3\\n"
    "while time.process_time() < end: pass\\n"
    "print('spun', flush=True)\\n"
    "time.sleep(600)"
)
subprocess.run([sys.executable, "-c", child])
"""


def test_cpu_times_of_a_process_tree_count_its_children() -> None:
    parent = subprocess.Popen(
        python(SPINNING_CHILD), stdout=subprocess.PIPE, text=True, start_new_session=True
    )
    try:
        assert parent.stdout is not None
        assert parent.stdout.readline().strip() == "spun"  # the child has spun its 0.3 s
        alone = sum(harness.cpu_times(parent.pid))
        tree = harness.cpu_seconds(parent.pid, tree=True)
        assert tree - alone >= 0.25
    finally:
        os.killpg(parent.pid, 9)  # the group this test made
        parent.wait()
        if parent.stdout is not None:
            parent.stdout.close()
    assert math.isnan(harness.cpu_seconds(parent.pid))


def test_choose_installed_keeps_the_order_and_says_what_it_skips(
    capsys: pytest.CaptureFixture[str],
) -> None:
    chosen = harness.choose_installed(
        ["b", "missing", "a", "unknown"], ("a", "b", "missing"), lambda kind: kind != "missing"
    )
    assert chosen == ["b", "a"]
    assert capsys.readouterr().err.splitlines() == [
        "skipping missing: not installed",
        "skipping unknown: not installed",
    ]


def test_running_stops_every_server_started_also_one_that_was_not_ready() -> None:
    with harness.running(
        [
            lambda: harness.ServerProcess(
                "prints", python(LISTENS_AND_PRINTS_ITS_PORT), port=None
            ),
            lambda: harness.ServerProcess(
                "exits", python("import sys; sys.exit(4)"), port=harness.free_port()
            ),
        ]
    ) as ready:
        assert [server.name for server in ready] == ["prints"]
        (server,) = ready
    assert server.process.poll() is not None


@pytest.mark.skipif(harness.NGINX is None, reason="needs nginx (apt-get install nginx)")
def test_nginx_runs_with_the_shared_configuration_and_the_scripts_part(tmp_path: Path) -> None:
    port = harness.free_port()
    http = f'server {{ listen 127.0.0.1:{port}; location = / {{ return 200 "fine"; }} }}'
    with harness.nginx_server(str(tmp_path / "nginx"), port, http) as nginx:
        nginx.wait_listening()
        assert harness.ask_closing(port, 1, expect=b"fine") is None
    assert nginx.process.poll() is not None
    assert (tmp_path / "nginx" / "nginx.conf").read_text().count("access_log off;") == 1


def test_choose_servers_puts_relays_first_and_refuses_unknown_names(
    capsys: pytest.CaptureFixture[str],
) -> None:
    import argparse

    parser = argparse.ArgumentParser(prog="bench")
    known, default = ("relays", "peer", "absent", "variant"), ("relays", "peer", "absent")
    choose = harness.choose_servers

    def installed(kind: str) -> bool:
        return kind != "absent"

    assert choose(parser, None, known=known, default=default, installed=installed) == [
        "relays",
        "peer",
    ]
    assert "skipping absent: not installed" in capsys.readouterr().err
    assert choose(parser, "variant", known=known, default=default, installed=installed) == [
        "relays",
        "variant",
    ]
    with pytest.raises(SystemExit):
        choose(parser, "peer,nothing", known=known, default=default, installed=installed)
    assert "unknown servers ['nothing']" in capsys.readouterr().err


def test_ratios_read_as_the_tables_show_a_peer_against_relays() -> None:
    relays, peer = _wrk(2000.0, 20.0), _wrk(1000.0, 40.0)
    assert peer.ratios(relays) == (2.0, 2.0)
    assert all(math.isnan(value) for value in peer.ratios(None))
    assert all(math.isnan(value) for value in _wrk(0.0, 40.0).ratios(_wrk(0.0, 0.0)))
