"""The web examples in ``examples/web/`` run, answer real requests and stop on SIGTERM."""

from __future__ import annotations

import hashlib
import json
import socket
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from relays.testing import RunExample

pytestmark = pytest.mark.integration

EXAMPLES = Path(__file__).parents[3] / "examples" / "web"


def fetch(url: str | urllib.request.Request, data: bytes | None = None) -> tuple[int, str, str]:
    """Status, content type and text of *url* (errors included)."""
    try:
        with urllib.request.urlopen(url, data=data, timeout=5) as response:
            return response.status, response.headers["Content-Type"], response.read().decode()
    except urllib.error.HTTPError as error:
        with error:
            return error.code, error.headers["Content-Type"], error.read().decode()


def test_hello(run_example: RunExample) -> None:
    url = run_example(EXAMPLES / "hello.py", "tcp://127.0.0.1:{0}").url
    assert fetch(url) == (200, "text/html; charset=utf-8", "Hello World!")
    assert fetch(url + "nothing")[0] == 404


def test_controllers(run_example: RunExample) -> None:
    url = run_example(EXAMPLES / "controllers.py", "tcp://127.0.0.1:{0}").url
    assert "guestbook" in fetch(url)[2]
    assert fetch(url + "hello/ann")[2] == "Hello ann!"
    assert fetch(url + "hello?name=%3Cb%3E")[2] == "Hello &lt;b&gt;!"
    assert fetch(url + "add?a=1&b=2")[2] == "3"
    assert fetch(url + "add?a=x")[0] == 404  # not an int: no page takes it
    assert fetch(url + "files/a/b/c")[2] == "a/b/c"
    assert fetch(url + "robots.txt")[1] == "text/plain"
    form = urllib.parse.urlencode({"name": "Ann", "message": "<hi>"}).encode()
    status, _, text = fetch(url + "guestbook", form)  # urllib follows the 303
    assert (status, "<b>Ann</b>: &lt;hi&gt;" in text) == (200, True)
    status, content_type, text = fetch(url + "api/item/7")
    assert (status, content_type, json.loads(text)) == (
        200,
        "application/json",
        {"id": 7, "square": 49},
    )
    status, content_type, text = fetch(url + "api/item/101")
    assert (status, json.loads(text)["description"]) == (404, "no item 101")


def test_wsgi_gateway(run_example: RunExample) -> None:
    url = run_example(EXAMPLES / "wsgi_gateway.py", "tcp://127.0.0.1:{0}").url
    assert fetch(url + "legacy/hello")[2] == "WSGI says hello from /legacy/hello\n"
    assert fetch(url)[2] == "relays says hello"


def test_echo_upgrade(run_example: RunExample) -> None:
    url = run_example(EXAMPLES / "echo_upgrade.py", "tcp://127.0.0.1:{0}").url
    port = int(url.rsplit(":", 1)[1].strip("/"))
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(
            b"GET /echo HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\nhi"
        )
        data = b""
        while not data.endswith(b"\r\n\r\nhi"):
            chunk = sock.recv(4096)
            assert chunk, data
            data += chunk
        assert data.startswith(b"HTTP/1.1 101 Switching Protocols\r\n")
        sock.sendall(b"again")
        assert sock.recv(4096) == b"again"
        sock.shutdown(socket.SHUT_WR)
        assert sock.recv(4096) == b""
    status, _, text = fetch(url + "echo")
    assert (status, "Upgrade: echo" in text) == (426, True)


def test_uploads(run_example: RunExample) -> None:
    url = run_example(EXAMPLES / "uploads.py", "tcp://127.0.0.1:{0}").url
    port = int(url.rsplit(":", 1)[1].strip("/"))
    request = urllib.request.Request(url + "uploads/save", data=b"x" * 1000, method="POST")
    assert fetch(request)[2] == "saved 1000 bytes\n"
    put = urllib.request.Request(url + "raw/a.txt", data=b"abc", method="PUT")
    name, digest = fetch(put)[2].split()
    assert (name, digest) == ("a.txt", hashlib.sha256(b"abc").hexdigest())
    assert fetch(url + "pay?amount=5")[2] == "recorded 5, total 5\n"
    # Refused unread: the client waits for 100 Continue and gets the 413 instead.
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(
            b"POST /uploads/save HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999\r\n"
            b"Expect: 100-continue\r\n\r\n"
        )
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = sock.recv(4096)
            assert chunk, data
            data += chunk
        assert data.startswith(b"HTTP/1.1 413 ")
