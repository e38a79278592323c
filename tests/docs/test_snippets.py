"""Every program under docs/snippets/ that the docs include runs, and prints what it should.

A snippet is a whole program: it runs with warnings as errors, exits 0, writes nothing on
stderr, and when a ``<name>.out`` file sits beside it, prints exactly that. Folders with a
``pyproject.toml`` are packages, not programs: each is built and tested by the test named in
``PACKAGES``. Snippets that are modules for another program (a WSGI server) get a test of
their own here as well.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import signal
import subprocess
import sys
import urllib.request
import wsgiref.util
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from docs_code_blocks import ROOT, blocks_of

SNIPPETS = ROOT / "docs" / "snippets"

#: Package folders under docs/snippets/, and the test that builds, installs and runs each.
PACKAGES = {"docs/snippets/greeter": "tests/docs/test_plugin_guide.py"}

#: Seconds a snippet may take; each ends by itself in well under one.
TIMEOUT = 30


def in_a_package(path: Path) -> bool:
    relative = path.relative_to(ROOT).as_posix()
    return any(relative.startswith(package + "/") for package in PACKAGES)


#: Every program of docs/snippets/ (the meta-test reads this list).
SCRIPTS = sorted(p for p in SNIPPETS.rglob("*.py") if not in_a_package(p))


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.relative_to(SNIPPETS).as_posix())
def test_snippet_runs_and_prints_what_it_should(script: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-W", "error", script.name],
        cwd=script.parent,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    expected = script.with_suffix(".out")
    if expected.is_file():
        assert result.stdout == expected.read_text()


def test_packages_are_folders_with_a_pyproject_and_a_test() -> None:
    for package, test in PACKAGES.items():
        assert (ROOT / package / "pyproject.toml").is_file(), package
        assert (ROOT / test).is_file(), test
    found = {p.parent.relative_to(ROOT).as_posix() for p in SNIPPETS.rglob("pyproject.toml")}
    assert found == set(PACKAGES)


def test_no_example_is_named_like_a_module_of_the_standard_library() -> None:
    # A program kept in site.py, code.py or http.py is shadowed by Python's own module when a
    # server imports it by name (gunicorn site:application finds the standard `site`).
    files = [*SNIPPETS.rglob("*.py"), *(ROOT / "examples").rglob("*.py")]
    shadowed = [f.relative_to(ROOT).as_posix() for f in files if f.stem in sys.stdlib_module_names]
    assert shadowed == []


# -- docs/snippets/wsgi/hello_site.py: a module a WSGI server imports ---------------------

HELLO_SITE = SNIPPETS / "wsgi" / "hello_site.py"


@pytest.fixture
def hello_site() -> Iterator[Any]:
    spec = importlib.util.spec_from_file_location("hello_site", HELLO_SITE)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    yield module
    module.application.close()


def call(application: Any, path: str) -> tuple[str, bytes]:
    environ: dict[str, Any] = {"PATH_INFO": path}
    wsgiref.util.setup_testing_defaults(environ)
    started: list[str] = []

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        started.append(status)
        return lambda data: None

    body = b"".join(application(environ, start_response))
    return started[0], body


def test_the_wsgi_module_answers_as_an_application(hello_site: Any) -> None:
    assert call(hello_site.application, "/") == (
        "200 OK",
        b"Hello from relays, behind a WSGI server",
    )
    assert call(hello_site.application, "/hello/Ada") == ("200 OK", b'{"greeting":"Hello, Ada!"}')


@pytest.mark.integration
def test_gunicorn_serves_the_wsgi_module_as_the_howto_says() -> None:
    gunicorn = shutil.which("gunicorn", path=os.pathsep.join([str(Path(sys.executable).parent)]))
    if gunicorn is None:
        pytest.skip("gunicorn is not installed (it is in the dev dependencies: run dev.py)")
    (command,) = [
        command
        for b in blocks_of(ROOT / "docs" / "howto" / "wsgi.rst")
        if b.language == "console"
        for command in b.commands()
        if command.startswith("gunicorn ")
    ]
    program, *arguments = command.split()
    assert program == "gunicorn"
    # The page's command, on a free port instead of gunicorn's default 8000.
    server = subprocess.Popen(
        [gunicorn, *arguments, "--bind", "127.0.0.1:0", "--workers", "1"],
        cwd=HELLO_SITE.parent,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stderr is not None
        listening = None
        for line in server.stderr:  # gunicorn logs its address once it listens
            if found := re.search(r"Listening at: (http://\S+)", line):
                listening = found[1]
                break
        assert listening, "gunicorn did not start"
        with urllib.request.urlopen(f"{listening}/hello/Ada", timeout=TIMEOUT) as answer:
            assert answer.read() == b'{"greeting":"Hello, Ada!"}'
    finally:
        server.send_signal(signal.SIGTERM)
        server.communicate(timeout=TIMEOUT)
