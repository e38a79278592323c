"""``relays serve`` and ``relays demo`` with the logging options, run as real processes."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from relays._cli import main
from relays_http.testing import run_relays

pytestmark = pytest.mark.integration


COMBINED = re.compile(
    r'^(?P<remote>\S+) - - \[[^\]]+\] "(?P<request>(?:[^"\\]|\\.)*)" (?P<status>\d{3}) '
    r'(?P<size>\d+|-) "(?:[^"\\]|\\.)*" "(?P<agent>(?:[^"\\]|\\.)*)" \d+$'
)
APP = """
from relays import Component

class App(Component):
    channel = "web"

    def request(self, request, response):
        if request.path == "/fail":
            raise RuntimeError("failing on purpose")
        return "hello"
"""


def stop(process: subprocess.Popen[str]) -> tuple[str, str]:
    """Stop gracefully; the rest of stdout and stderr."""
    process.send_signal(signal.SIGTERM)
    out, err = process.communicate(timeout=10)
    assert process.returncode == 0, err
    return out, err


def fetch(url: str, headers: dict[str, str] | None = None) -> int:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            response.read()
            return int(response.status)
    except urllib.error.HTTPError as error:
        error.read()
        return error.code


def wait_for_lines(path: Path, count: int) -> list[str]:
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        lines = path.read_text().splitlines() if path.exists() else []
        if len(lines) >= count:
            return lines
        time.sleep(0.02)
    raise AssertionError(f"{path} has fewer than {count} lines")


def test_demo_access_log_on_stdout() -> None:
    with run_relays("demo", "--bind", "tcp://127.0.0.1:0", "--access-log", "-") as (process, url):
        assert fetch(url, {"User-Agent": 'say "hi"'}) == 200
        assert fetch(url + "missing") == 404
        out, _err = stop(process)
    first, second = out.splitlines()[:2]
    fields = COMBINED.match(first)
    assert fields is not None, first
    assert (fields["remote"], fields["request"], fields["status"]) == (
        "127.0.0.1",
        "GET / HTTP/1.1",
        "200",
    )
    assert fields["agent"] == 'say \\"hi\\"'
    assert COMBINED.match(second)
    assert " 404 " in second


def test_serve_json_access_file_survives_logrotate(tmp_path: Path) -> None:
    (tmp_path / "logapp.py").write_text(APP)
    log = tmp_path / "access.log"
    arguments = (
        "serve", "logapp:App", "--bind", "tcp://127.0.0.1:0",
        "--access-log", str(log), "--log-format", "json", "--trusted-proxy", "127.0.0.1",
    )  # fmt: skip
    with run_relays(*arguments, cwd=tmp_path) as (process, url):
        assert fetch(url + "a", {"X-Forwarded-For": "203.0.113.5"}) == 200
        (line,) = wait_for_lines(log, 1)
        log.rename(tmp_path / "access.log.1")  # what logrotate does
        assert fetch(url + "b") == 200
        (moved_line,) = wait_for_lines(log, 1)
        stop(process)
    first, second = json.loads(line), json.loads(moved_line)
    assert (first["remote"], first["peer"], first["target"]) == ("203.0.113.5", "127.0.0.1", "/a")
    assert (second["remote"], second["target"], second["status"]) == ("127.0.0.1", "/b", 200)


def test_log_level_governs_the_error_log(tmp_path: Path) -> None:
    (tmp_path / "logapp.py").write_text(APP)
    base = ("serve", "logapp:App", "--bind", "tcp://127.0.0.1:0")
    with run_relays(*base, "--log-level", "error", cwd=tmp_path) as (process, url):
        assert fetch(url + "fail") == 500
        _, err = stop(process)
    assert re.search(
        r'ERROR relays\.error: request handler failed for "GET /fail HTTP/1\.1"', err
    ), err
    assert "RuntimeError: failing on purpose" in err
    with run_relays(*base, "--log-level", "critical", cwd=tmp_path) as (process, url):
        assert fetch(url + "fail") == 500
        _, err = stop(process)
    assert "failing on purpose" not in err


def test_log_debug_routes_the_debugger() -> None:
    arguments = ("demo", "--bind", "tcp://127.0.0.1:0", "--log-debug", "--log-level", "debug")
    with run_relays(*arguments) as (process, url):
        assert fetch(url) == 200
        _, err = stop(process)
    assert re.search(r"DEBUG relays\.debug: <.*request", err), err[-2000:]


def test_bad_options_are_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    demo = ["demo", "--bind", "tcp://127.0.0.1:0"]
    cases = [
        (["--access-log", str(tmp_path / "no" / "such.log")], "does not exist; create it"),
        (["--access-log", str(tmp_path)], "is a directory"),
        (["--trusted-proxy", "not-an-address"], "'not-an-address' is not an IP address"),
        (["--log-format", "common"], "invalid choice: 'common'"),
        (["--log-level", "loud"], "invalid choice: 'LOUD'"),
    ]
    for arguments, message in cases:
        with pytest.raises(SystemExit) as exit_info:
            main([*demo, *arguments])
        assert exit_info.value.code == 2
        assert message in capsys.readouterr().err


def test_workers_share_the_access_file(tmp_path: Path) -> None:
    (tmp_path / "logapp.py").write_text(APP)
    log = tmp_path / "access.log"
    arguments = (
        "serve", "logapp:App", "--bind", "tcp://127.0.0.1:0", "--workers", "2",
        "--access-log", str(log),
    )  # fmt: skip
    with run_relays(*arguments, cwd=tmp_path) as (process, url):
        for index in range(20):
            assert fetch(f"{url}n{index}") == 200
        lines = wait_for_lines(log, 20)
        stop(process)
    targets = []
    for line in lines:
        fields = COMBINED.match(line)
        assert fields is not None, line
        targets.append(fields["request"].split()[1])
    assert sorted(targets) == sorted(f"/n{index}" for index in range(20))
