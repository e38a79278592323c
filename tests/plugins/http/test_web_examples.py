"""The web-essentials examples in ``examples/web/`` run as the docs show them, with curl."""

from __future__ import annotations

import gzip
import json
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

EXAMPLES = Path(__file__).parents[3] / "examples" / "web"


@pytest.fixture
def curl() -> str:
    path = shutil.which("curl")
    if path is None:
        pytest.skip("curl is not installed (apt-get install curl)")
    return path


@contextmanager
def example(name: str, *options: str, crashes: bool = False) -> Iterator[str]:
    """Run ``examples/web/<name>`` on a port of its own; yield its URL; stop it. Unless
    a page *crashes* on purpose, no traceback may be logged."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = subprocess.Popen(
        [sys.executable, str(EXAMPLES / name), f"tcp://127.0.0.1:{port}", *options],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if process.poll() is not None:
                    raise AssertionError(process.communicate(timeout=5)) from None
                with suppress(subprocess.TimeoutExpired):
                    process.wait(0.05)
        yield f"http://127.0.0.1:{port}/"
    finally:
        process.terminate()
        _, stderr = process.communicate(timeout=10)
        assert (b"Traceback" in stderr) == crashes, stderr


def curl_get(curl: str, url: str, *options: str) -> tuple[str, bytes]:
    """The lower-cased head and the body curl got for *url*."""
    result = subprocess.run(
        [curl, "--silent", "--show-error", "--dump-header", "-", *options, url],
        capture_output=True,
        check=True,
        timeout=10,
    )
    head, _, body = result.stdout.partition(b"\r\n\r\n")
    return head.decode("latin-1").lower(), body


def test_compression(curl: str) -> None:
    with example("compression.py") as url:
        head, body = curl_get(curl, url, "-H", "Accept-Encoding: gzip")
        assert "content-encoding: gzip" in head
        assert gzip.decompress(body).decode().startswith("<h1>A long page</h1>")
        head, body = curl_get(curl, url + "report", "--compressed")
        assert "transfer-encoding: chunked" in head
        assert body.decode().splitlines()[-1] == "line 999: all is well"
        head, body = curl_get(curl, url + "logo", "-H", "Accept-Encoding: gzip")
        assert "content-encoding" not in head
        assert body.startswith(b"\x89PNG")


def test_conditional(curl: str, tmp_path: Path) -> None:
    tags = tmp_path / "etags"
    with example("conditional.py") as url:
        head, _ = curl_get(curl, url, "--etag-save", str(tags))
        assert "etag: " in head
        head, body = curl_get(curl, url, "--etag-compare", str(tags))
        assert (head[:12], body) == ("http/1.1 304", b"")
        head, body = curl_get(curl, url + "article")
        assert ('etag: "1"' in head, body) == (True, b"First version.")
        assert "cache-control: no-cache" in head
        head, _ = curl_get(curl, url + "article", "-H", 'If-None-Match: "1"')
        assert head.startswith("http/1.1 304")
        head, _ = curl_get(curl, url + "article", "-H", 'If-Match: "0"', "-d", "text=lost")
        assert head.startswith("http/1.1 412")
        head, body = curl_get(curl, url + "article", "-H", 'If-Match: "1"', "-d", "text=New.")
        assert (head.startswith("http/1.1 200"), body) == (True, b"saved")
        assert curl_get(curl, url + "article")[1] == b"New."
        head, _ = curl_get(curl, url + "logo")
        assert "cache-control: max-age=86400" in head
        assert "expires: " in head


def test_api(curl: str) -> None:
    with example("api.py") as url:
        head, _ = curl_get(
            curl,
            url + "items/1",
            "-X",
            "OPTIONS",
            "-H",
            "Origin: https://app.example.com",
            "-H",
            "Access-Control-Request-Method: PUT",
        )
        assert head.startswith("http/1.1 204")
        assert "access-control-allow-methods: get, put" in head
        head, body = curl_get(curl, url + "items/1", "-H", "Accept: application/json")
        assert json.loads(body) == {"key": "1", "text": "first item"}
        head, body = curl_get(curl, url + "items/1", "-H", "Accept: text/html")
        assert body == b"<p>first item</p>"
        head, _ = curl_get(curl, url + "items/1", "-H", "Accept: image/png")
        assert head.startswith("http/1.1 406")
        head, body = curl_get(curl, url + "clock", "-N", "-H", "Last-Event-ID: 10")
        assert "content-type: text/event-stream" in head
        assert body.decode().count("event: tick") == 3
        assert "id: 13\n" in body.decode()


def test_error_pages(curl: str) -> None:
    with example("error_pages.py", "--debug", crashes=True) as url:
        assert curl_get(curl, url, "-b", "visits=3")[1] == b"Hello! Visits so far: 3"
        head, body = curl_get(curl, url + "nowhere")
        assert head.startswith("http/1.1 404")
        assert body == b"<h1>No page at /nowhere</h1><p><a href='/'>Home</a></p>"
        head, body = curl_get(curl, url + "broken")
        assert head.startswith("http/1.1 500")
        assert body.startswith(b"<h1>500 Internal Server Error</h1>")
        assert b"detail" not in body
        head, body = curl_get(curl, url + "add?a=x")  # ErrorPages' 404 page wins
        assert body == b"<h1>No page at /add</h1><p><a href='/'>Home</a></p>"


def test_auth(curl: str) -> None:
    pytest.importorskip("passlib.apache", reason="pip install 'relays-http[htpasswd]'")
    with example("auth.py") as url:
        assert curl_get(curl, url)[1] == b"Open to everyone."
        head, _ = curl_get(curl, url + "admin")
        assert head.startswith("http/1.1 401")
        assert 'www-authenticate: basic realm="admin"' in head
        body = curl_get(curl, url + "admin", "-u", "admin:change-me")[1]
        assert body == b"Hello admin, welcome to the admin pages."
        head, _ = curl_get(curl, url + "reports", "-u", "ann:s3cret")
        assert head.startswith("http/1.1 401")  # Basic is not what /reports asks for
        # curl shows the 401 that challenged it, then the answer to its second request
        body = curl_get(curl, url + "reports", "--digest", "-u", "ann:s3cret")[1]
        assert body.split(b"\r\n\r\n")[-1] == b"Reports for ann."


def test_login(curl: str, tmp_path: Path) -> None:
    jar = str(tmp_path / "jar")
    with example("login.py") as url:
        assert curl_get(curl, url + "public")[1] == b"Anyone may read this."
        head, _ = curl_get(curl, url, "-b", jar, "-c", jar)
        assert head.startswith("http/1.1 303")
        form = ("-d", "username=ann", "-d", "password=s3cret", "-d", "next=/")
        body = curl_get(curl, url + "login", "-L", "-b", jar, "-c", jar, *form)[1]
        assert body.split(b"\r\n\r\n")[-1] == b"Welcome back, ann."
