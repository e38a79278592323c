"""``relays serve --reload``: a real watcher process restarting a real server."""

from __future__ import annotations

import os
import signal
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from relays._cli import main
from relays_http._reload import child_arguments, watched_folders
from relays_http.testing import run_relays

#: Seconds the test waits for the new text before it gives up (a bound, not a margin).
RELOAD_DEADLINE = 60.0

APP = (
    "import os\n"
    "from relays import Component\n\n"
    "class App(Component):\n"
    "    channel = 'web'\n\n"
    "    def request(self, request, response):\n"
    "        return f'{TEXT} {os.getpid()}'\n"
)


def write_app(folder: Path, text: str) -> None:
    (folder / "app.py").write_text(f"TEXT = {text!r}\n" + APP)


def fetch(url: str) -> str:
    with urllib.request.urlopen(url, timeout=5) as response:
        body: bytes = response.read()
        return body.decode()


def is_running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.mark.integration
def test_a_changed_file_is_served_after_a_restart(tmp_path: Path) -> None:
    pytest.importorskip("watchfiles", reason="relays-http[reload] needs watchfiles")
    write_app(tmp_path, "first")
    arguments = ("serve", "app:App", "--bind", "tcp://127.0.0.1:0", "--reload")
    with run_relays(*arguments, cwd=tmp_path) as (process, url):
        text, first_pid = fetch(url).split()
        assert text == "first"
        assert first_pid != str(process.pid)  # a child serves, not the watcher
        # A different length, so that a stale .pyc of the same size and second is not used.
        write_app(tmp_path, "the second version")
        deadline = time.monotonic() + RELOAD_DEADLINE
        served = ""
        while not served.startswith("the second version"):
            assert time.monotonic() < deadline, f"still serving {served!r}"
            try:
                served = fetch(url)  # the port stays: the watcher holds the socket
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                # The old child closing a connection as it stops, or (TimeoutError) a
                # request waiting in the socket's backlog longer than fetch's 5 s while
                # a loaded machine starts the new child.
                continue
        second_pid = int(served.rsplit(" ", 1)[1])
        assert not is_running(int(first_pid))
        process.send_signal(signal.SIGTERM)
        assert process.wait(30) == 0
        assert process.stdout is not None
        assert "app.py changed; restarting" in process.stdout.read()
    assert not is_running(second_pid)


def test_reload_refuses_workers(capsys: pytest.CaptureFixture[str]) -> None:
    arguments = ["serve", "relays_http._demo:make_demo", "--reload", "--workers", "2"]
    assert main(arguments) == 2
    assert "--reload runs one server process" in capsys.readouterr().err


def test_reload_without_watchfiles_says_what_to_install(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import importlib.util

    real_find_spec = importlib.util.find_spec

    def no_watchfiles(name: str, package: str | None = None) -> object:
        return None if name == "watchfiles" else real_find_spec(name, package)

    monkeypatch.setattr(importlib.util, "find_spec", no_watchfiles)
    assert main(["serve", "relays_http._demo:make_demo", "--reload"]) == 2
    assert "pip install 'relays-http[reload]'" in capsys.readouterr().err


def test_the_child_gets_the_arguments_without_reload() -> None:
    arguments = ["serve", "app:App", "--reload", "--bind", "tcp://127.0.0.1:0", "--debug"]
    assert child_arguments(arguments, None) == [
        "serve",
        "app:App",
        "--bind",
        "tcp://127.0.0.1:0",
        "--debug",
    ]
    assert child_arguments(["serve", "--bind=tcp://[::1]:80", "--reload"], "fd://5") == [
        "serve",
        "--bind",
        "fd://5",
    ]


def test_the_app_module_folder_is_watched_too(tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (tmp_path / "here").mkdir()
    (elsewhere / "site.py").write_text("")
    folders = watched_folders("../elsewhere/site.py:App", tmp_path / "here")
    assert folders == [(tmp_path / "here").resolve(), elsewhere.resolve()]
    assert watched_folders("relays_http._demo:make_demo", tmp_path) == [
        tmp_path.resolve(),
        Path(__import__("relays_http").__file__).resolve().parent,
    ]
