"""Each program of examples/resources/ (Twisted Web's "in 60 seconds" topics, in our
words) served on loopback and asked with curl, as its docstring says it behaves."""

from __future__ import annotations

import importlib.util
import logging
import pathlib
import re
import shutil
import socket
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import ModuleType, SimpleNamespace

import pytest

from relays_http.testing import serve_in_thread
from relays_resources import Resource

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed"),
]

FOLDER = pathlib.Path(__file__).parents[3] / "examples" / "resources"


def load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"resources_example_{name}", FOLDER / name)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@contextmanager
def serving(name: str, **settings: object) -> Iterator[tuple[ModuleType, str]]:
    """Serve examples/resources/<name> as examples/resources/serve.py builds it."""
    module = load(name)
    for key, value in settings.items():
        setattr(module, key, value)
    with serve_in_thread(load("serve.py").build(module, "tcp://127.0.0.1:0")) as server:
        yield module, server.url


def curl(*arguments: str) -> str:
    done = subprocess.run(
        ["curl", "-sS", "--max-time", "10", *arguments], capture_output=True, text=True, check=True
    )
    return done.stdout


def status(url: str, *arguments: str) -> str:
    return curl("-o", "/dev/null", "-w", "%{http_code}", *arguments, url)


def test_hello() -> None:
    with serving("hello.py") as (_, url):
        assert curl(url + "any/path") == "Hello, world"


def test_static() -> None:
    with serving("static.py") as (_, url):
        assert "a static page" in curl(url)
        assert curl(url + "note.txt") == "plain text, served by File\n"
        assert curl("-r", "0-4", url + "note.txt") == "plain"
        assert status(url + "missing.txt") == "404"
        assert status(url + "..%2fhello.py") == "404"
        headers = curl("-I", url + "note.txt")
        etag = re.search(r"(?im)^etag: (.+?)\s*$", headers)
        assert etag is not None
        assert status(url + "note.txt", "-H", f"If-None-Match: {etag.group(1)}") == "304"


def test_dynamic() -> None:
    with serving("dynamic.py") as (_, url):
        assert re.search(r"The time is \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC", curl(url))


def test_url_dispatch_and_error_handling() -> None:
    with serving("url_dispatch.py") as (_, url):
        assert "January" in curl(url + "calendar/2024")
        assert curl(url + "about") == "calendars, by year"
        assert status(url + "nothing") == "404"
    with serving("error_handling.py") as (_, url):
        assert curl(url + "square/12") == "144"
        assert status(url + "square/twelve") == "404"
        assert "is not a whole number" in curl(url + "square/twelve")


def test_custom_codes_and_methods() -> None:
    with serving("custom_codes.py") as (_, url):
        assert status(url) == "402"
        assert status(url, "-X", "POST") == "405"
        assert "\nallow: get, head\n" in curl("-i", "-X", "POST", url).lower()  # any case
        assert status(url, "-X", "DELETE") == "501"  # as Twisted: a method it does not know


def test_forms() -> None:
    with serving("forms.py") as (_, url):
        assert "<form" in curl(url)
        page = curl("--data-urlencode", "the-field=<b>bold</b>", url)
        assert "You submitted: &lt;b&gt;bold&lt;/b&gt;" in page


def test_sessions(tmp_path: pathlib.Path) -> None:
    jar = str(tmp_path / "jar")
    with serving("sessions.py") as (_, url):
        assert curl("-b", jar, "-c", jar, url) == "visit number 1"
        assert curl("-b", jar, "-c", jar, url) == "visit number 2"
        assert curl(url) == "visit number 1"


def test_asynchronous() -> None:
    with serving("asynchronous.py", DELAY=0.01) as (_, url):
        page = curl(url)
        assert page.endswith("Sorry to keep you waiting... thanks for waiting.</body></html>")


def test_interrupted(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="examples.interrupted")
    cancelled = threading.Event()
    with serving("interrupted.py") as (module, url):
        module.root.on_cancelled = lambda request: cancelled.set()
        port = int(url.rstrip("/").rpartition(":")[2])
        with socket.create_connection(("127.0.0.1", port)) as client:
            client.sendall(b"GET / HTTP/1.1\r\nHost: test\r\n\r\n")
            received = b""
            while b"wait for it" not in received:
                received += client.recv(4096)
        assert cancelled.wait(10)
    assert "the client left: timer cancelled" in caplog.text


def test_logging_errors(caplog: pytest.LogCaptureFixture) -> None:
    with serving("logging_errors.py") as (_, url):
        assert status(url) == "500"
    assert "ZeroDivisionError: the computation failed" in caplog.text


def test_access_logging(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="relays.access")
    with serving("access_logging.py") as (_, url):
        assert curl(url + "page?x=1") == "logged"
    assert re.search(r'"GET /page\?x=1 HTTP/1.1" 200 6', caplog.text)


def test_wsgi() -> None:
    with serving("wsgi.py") as (_, url):
        assert curl(url + "app/hello/there") == "WSGI at /app for /hello/there"


def test_reverse_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    upstream = Resource()  # any tree will do as the upstream: url_dispatch's, at /v1
    upstream.putChild(b"v1", load("url_dispatch.py").root)
    tree = SimpleNamespace(root=upstream)
    with serve_in_thread(load("serve.py").build(tree, "tcp://127.0.0.1:0")) as behind:  # type: ignore[arg-type]
        monkeypatch.setenv("UPSTREAM_PORT", behind.url.rstrip("/").rpartition(":")[2])
        with serving("reverse_proxy.py") as (_, url):
            assert curl(url + "api/about") == "calendars, by year"
            assert "January" in curl(url + "api/calendar/2024")
            assert status(url + "api/nothing") == "404"
    with serving("reverse_proxy.py") as (_, url):  # the upstream has gone
        assert status(url + "api/about") == "502"
