"""``relays serve`` and ``relays demo``, run as real processes."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from relays._cli import _commands, build_parser, main
from relays._config import apply_settings, read_config_file
from relays_http.testing import RELAYS_COMMAND, run_relays

pytestmark = pytest.mark.integration


def fetch(url: str, data: bytes | None = None) -> bytes:
    with urllib.request.urlopen(url, data=data, timeout=5) as response:
        body: bytes = response.read()
        return body


def stop(process: subprocess.Popen[str]) -> int:
    process.send_signal(signal.SIGTERM)
    return process.wait(10)


def test_demo_serves_a_page_a_form_and_json() -> None:
    with run_relays("demo", "--bind", "tcp://127.0.0.1:0") as (process, url):
        assert b"<form" in fetch(url)
        form = urllib.parse.urlencode({"name": "Ada <3"}).encode()
        assert b"Hello, Ada &lt;3!" in fetch(url + "greet", form)
        info = json.loads(fetch(url + "api/info"))
        assert info["server"] == "relays"
        assert stop(process) == 0


def test_serve_a_controller(tmp_path: Path) -> None:
    """``relays serve`` puts the app under a Server, whose dispatcher serves controllers."""
    (tmp_path / "pages.py").write_text(
        "from relays_http import Controller\n\n"
        "class Root(Controller):\n"
        "    def index(self):\n"
        "        return 'root'\n\n"
        "    def hello(self, name='world'):\n"
        "        return f'hello {name}'\n"
    )
    arguments = ("serve", "pages:Root", "--bind", "tcp://127.0.0.1:0")
    with run_relays(*arguments, cwd=tmp_path) as (process, url):
        assert fetch(url) == b"root"
        assert fetch(url + "hello/ann") == b"hello ann"
        assert stop(process) == 0


def test_serve_with_two_workers(tmp_path: Path) -> None:
    (tmp_path / "pidapp.py").write_text(
        "import os\n"
        "from relays import Component\n\n"
        "class App(Component):\n"
        "    channel = 'web'\n\n"
        "    def request(self, request, response):\n"
        "        return str(os.getpid())\n"
    )
    arguments = ("serve", "pidapp:App", "--bind", "tcp://127.0.0.1:0", "--workers", "2")
    with run_relays(*arguments, cwd=tmp_path) as (process, url):
        pids = set()
        for _ in range(60):
            pids.add(int(fetch(url)))
            if len(pids) == 2:
                break
        assert len(pids) == 2
        assert process.pid not in pids
        assert stop(process) == 0


def test_serve_refuses_bad_input(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["serve", "nowhere_to_be_found:app"]) == 2
    assert "no module named" in capsys.readouterr().err
    assert main(["serve", "relays_http._demo:make_demo", "--max-body-size", "0"]) == 2
    assert "max_body_size" in capsys.readouterr().err
    assert main(["serve", "relays_http._demo:make_demo", "--workers", "0"]) == 2


def test_serve_refuses_an_app_that_is_a_server(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["serve", "relays_http:Server"]) == 2
    assert "already holds an HTTP server" in capsys.readouterr().err


def first_line(cwd: Path, *arguments: str, **environment: str) -> str:
    """Start ``relays serve *arguments`` in *cwd*; its first line, once it serves; then stop
    it (SIGTERM, exit status 0)."""
    process = subprocess.Popen(
        [*RELAYS_COMMAND, "serve", *arguments],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        cwd=cwd,
        env={**os.environ, "PYTHONUNBUFFERED": "1", **environment},
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        url = re.search(r"(http://\S+/)", line)
        assert url, line
        assert fetch(url[1]) == b"root"
        assert stop(process) == 0
        return line
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)
        if process.stdout is not None:
            process.stdout.close()


def test_serve_options_from_relays_toml_the_environment_and_the_command_line(
    tmp_path: Path,
) -> None:
    (tmp_path / "pages.py").write_text(
        "from relays_http import Controller\n\n"
        "class Root(Controller):\n"
        "    def index(self):\n"
        "        return 'root'\n"
    )
    (tmp_path / "relays.toml").write_text(
        '[serve]\ntarget = "pages:Root"\nbind = "tcp://127.0.0.1:0"\nworkers = 2\n'
    )
    assert "with 2 workers" in first_line(tmp_path)
    assert "workers" not in first_line(tmp_path, RELAYS_WORKERS="1")
    assert "with 2 workers" in first_line(tmp_path, "--workers", "2", RELAYS_WORKERS="1")


def test_the_documented_config_file_sets_serve_options(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # docs/reference/cli.rst shows this file.
    example = Path(__file__).parents[3] / "examples" / "web" / "relays.toml"
    (tmp_path / "relays.toml").write_text(example.read_text())
    monkeypatch.chdir(tmp_path)
    parser = build_parser()
    where, tables = read_config_file(tmp_path)
    apply_settings(_commands(parser), where, tables, {})
    options = parser.parse_args(["serve"])
    assert (options.target, options.bind) == ("myapp:App", "tcp://0.0.0.0:8000")
    assert (options.workers, options.shutdown_timeout) == (4, 10.0)
