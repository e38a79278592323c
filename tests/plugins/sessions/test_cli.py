"""``relays serve --session-store ...`` as real processes: restarts and two workers."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import urllib.request
from contextlib import AbstractContextManager
from pathlib import Path

import pytest

from relays._cli import main
from relays_http.testing import RELAYS_COMMAND as RELAYS
from relays_http.testing import run_relays

pytestmark = pytest.mark.integration


def serving(
    *arguments: str, cwd: Path
) -> AbstractContextManager[tuple[subprocess.Popen[str], str]]:
    return run_relays("serve", "app:App", "--bind", "tcp://127.0.0.1:0", *arguments, cwd=cwd)


APP = """\
import os

from relays import Component
from relays_sessions import session_of


class App(Component):
    channel = "web"

    def request(self, request, response):
        session = session_of(request)
        session["count"] = session.get("count", 0) + 1
        return f"{os.getpid()} {session['count']}"
"""

SECRET = "cli-test-secret-0123456789"


class Client:
    """One browser: sends the session cookie it was given, on a new connection each time."""

    def __init__(self) -> None:
        self.cookie = ""

    def get(self, url: str) -> tuple[int, int]:
        request = urllib.request.Request(
            url, headers={"Cookie": self.cookie} if self.cookie else {}
        )
        with urllib.request.urlopen(request, timeout=5) as response:
            set_cookie = response.headers.get("Set-Cookie")
            if set_cookie:
                self.cookie = set_cookie.split(";")[0]
            pid, count = response.read().decode().split()
            return int(pid), int(count)


@pytest.fixture
def app_dir(tmp_path: Path) -> Path:
    (tmp_path / "app.py").write_text(APP)
    return tmp_path


def test_sqlite_sessions_survive_a_restart(app_dir: Path) -> None:
    store = f"sqlite://{app_dir}/sessions.db"
    options = ("--session-store", store, "--session-secret", SECRET)
    client = Client()
    with serving(*options, cwd=app_dir) as (_, url):
        assert client.get(url)[1] == 1
        assert client.get(url)[1] == 2
    with serving(*options, cwd=app_dir) as (_, url):
        assert client.get(url)[1] == 3


def test_without_a_secret_a_random_one_is_used_with_a_warning(app_dir: Path) -> None:
    environment = {
        key: value for key, value in os.environ.items() if key != "RELAYS_SESSION_SECRET"
    }
    process = subprocess.Popen(
        [
            *RELAYS,
            "serve",
            "app:App",
            "--bind",
            "tcp://127.0.0.1:0",
            "--session-store",
            "memory://",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=app_dir,
        env={**environment, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert process.stdout is not None
        url = re.search(r"(https?://\S+/)", process.stdout.readline())
        assert url
        client = Client()
        assert client.get(url.group(1))[1] == 1
        assert client.get(url.group(1))[1] == 2
    finally:
        process.send_signal(signal.SIGTERM)
        _, errors = process.communicate(timeout=10)
    assert "no --session-secret" in errors


@pytest.mark.parametrize("kind", ["redis", "sqlite"])
def test_two_workers_share_sessions(
    kind: str, app_dir: Path, request: pytest.FixtureRequest
) -> None:
    if kind == "redis":
        store: str = request.getfixturevalue("redis_url")
    else:
        store = f"sqlite://{app_dir}/sessions.db"
    options = ("--workers", "2", "--session-store", store, "--session-secret", SECRET)
    with serving(*options, cwd=app_dir) as (process, url):
        client = Client()
        pids = set()
        counts = []
        for _ in range(100):
            pid, count = client.get(url)
            pids.add(pid)
            counts.append(count)
            if len(pids) == 2 and len(counts) >= 4:
                break
        assert len(pids) == 2, "every request landed on one worker"
        assert process.pid not in pids
        # One session, whichever worker answered: the count never restarts or repeats.
        assert counts == list(range(1, len(counts) + 1))


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--session-store", "memcached://x"], "no session store 'memcached'"),
        (["--session-store", "memory://", "--session-secret", "short"], "at least 16 bytes"),
        (["--session-secret", "short"], "at least 16 bytes"),
        (["--session-store", "memory://", "--session-idle-timeout", "0"], "positive"),
    ],
)
def test_bad_session_options_are_refused(
    options: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    arguments = ["serve", "relays_http._demo:make_demo", "--bind", "tcp://127.0.0.1:0"]
    with pytest.raises(SystemExit) as exit_status:
        main([*arguments, *options])
    assert exit_status.value.code == 2
    error = capsys.readouterr().err
    assert error.startswith("relays serve: error: ")
    assert message in error


@pytest.mark.parametrize(("flag", "preload"), [([], False), (["--session-preload"], True)])
def test_session_preload_is_passed_to_the_component(flag: list[str], preload: bool) -> None:
    import argparse

    import relays
    from relays import Component, Config
    from relays_sessions import Sessions
    from relays_sessions._cli import add_options, add_sessions

    parser = argparse.ArgumentParser()
    add_options(parser)
    options = parser.parse_args(
        ["--session-store", "memory://", "--session-secret", SECRET, *flag]
    )
    app = Component()
    add_sessions(app, Config("serve", options, relays.plugin_manager()))
    [sessions] = [component for component in app.walk() if isinstance(component, Sessions)]
    assert sessions.preload is preload
