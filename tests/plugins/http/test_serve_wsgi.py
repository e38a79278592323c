"""``relays serve module:application`` with a WSGI callable: recognised by its shape,
served through the Gateway, tried with curl."""

from __future__ import annotations

import shutil
import signal
import subprocess
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import pytest

from relays import Component, load_app
from relays_http import Gateway
from relays_http.plugin import relays_adapt_app
from relays_http.testing import run_relays

PLAIN_WSGI = """\
def application(environ, start_response):
    body = f"{environ['REQUEST_METHOD']} {environ['PATH_INFO']} {environ['QUERY_STRING']}"
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [body.encode()]
"""

#: The how-to's example (docs/howto/wsgi.rst): examples/web/flask_site.py.
EXAMPLES = Path(__file__).parents[3] / "examples" / "web"
assert (EXAMPLES / "flask_site.py").is_file()

CURL = shutil.which("curl")
needs_curl = pytest.mark.skipif(CURL is None, reason="curl is not installed")


def curl(*arguments: str) -> str:
    assert CURL is not None
    result = subprocess.run(
        [CURL, "--silent", "--show-error", "--max-time", "10", *arguments],
        capture_output=True,
        text=True,
        timeout=20,
        check=True,
    )
    return result.stdout


def stopped(process: subprocess.Popen[str]) -> int:
    """SIGTERM *process* and return its exit status."""
    process.send_signal(signal.SIGTERM)
    return process.wait(10)


def wsgi_function(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    start_response("200 OK", [])
    return [b""]


class WSGIObject:
    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        return []


class WSGIClass:
    """PEP 3333 allows a class: calling it makes the response iterable."""

    def __init__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> None:
        start_response("200 OK", [])

    def __iter__(self) -> Any:
        return iter([b""])


async def asgi_app(scope: Any, receive: Any, send: Any) -> None:
    """An ASGI 3 app: three parameters, not ours."""


class TwoArgumentComponent(Component):
    def __init__(self, first: Any, second: Any) -> None:
        super().__init__()


@pytest.mark.parametrize(
    "app", [wsgi_function, WSGIObject(), WSGIClass, lambda environ, start_response: []]
)
def test_wsgi_shapes_become_a_gateway_at_the_root(app: Any) -> None:
    gateway = relays_adapt_app(app=app)
    assert isinstance(gateway, Gateway)
    assert gateway.apps == {"": app}


@pytest.mark.parametrize(
    "app",
    [
        asgi_app,
        lambda scope: None,  # an ASGI 2 app
        lambda environ, start_response, extra: None,
        lambda environ, start_response=None: None,
        lambda *arguments: None,
        lambda environ, *, start_response: None,
        TwoArgumentComponent,
        Component(),
        42,
        len,  # a built-in: no signature to read
    ],
)
def test_other_shapes_are_left_alone(app: Any) -> None:
    assert relays_adapt_app(app=app) is None


def test_load_app_takes_a_flask_app_and_its_factory(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(EXAMPLES)
    monkeypatch.syspath_prepend(str(EXAMPLES))
    for target in ("flask_site:app", "flask_site:create_app"):
        gateway = load_app(target)
        assert isinstance(gateway, Gateway)
        assert type(gateway.apps[""]).__name__ == "Flask"


@pytest.mark.integration
@needs_curl
def test_serve_a_plain_wsgi_function(tmp_path: Path) -> None:
    (tmp_path / "plainwsgi.py").write_text(PLAIN_WSGI)
    arguments = ("serve", "plainwsgi:application", "--bind", "tcp://127.0.0.1:0")
    with run_relays(*arguments, cwd=tmp_path) as (process, url):
        assert curl(url + "some/where?x=1") == "GET /some/where x=1"
        assert curl("--data", "a=b", url + "form") == "POST /form "
        assert stopped(process) == 0


@pytest.mark.integration
@needs_curl
@pytest.mark.parametrize("target", ["flask_site:app", "flask_site:create_app"])
def test_serve_a_flask_app(target: str) -> None:
    arguments = ("serve", target, "--bind", "tcp://127.0.0.1:0")
    with run_relays(*arguments, cwd=EXAMPLES) as (process, url):
        assert curl(url + "hello/ada").strip() == '{"hello":"ada"}'
        assert curl("--data-binary", "payload", url + "echo") == "payload"
        assert "404" in curl("--write-out", "%{http_code}", "--output", "/dev/null", url + "no")
        assert stopped(process) == 0


@pytest.mark.integration
@needs_curl
def test_serve_a_wsgi_app_with_workers(tmp_path: Path) -> None:
    (tmp_path / "plainwsgi.py").write_text(PLAIN_WSGI)
    arguments = ("serve", "plainwsgi:application", "--bind", "tcp://127.0.0.1:0")
    with run_relays(*arguments, "--workers", "2", cwd=tmp_path) as (process, url):
        for _ in range(4):
            assert curl(url + "w") == "GET /w "
        assert stopped(process) == 0
