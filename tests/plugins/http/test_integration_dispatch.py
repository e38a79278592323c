"""Controllers, the WSGI gateway (a real Flask app) and curl's framing, on real sockets."""

from __future__ import annotations

import http.client
import json
import shutil
import subprocess
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import flask
import pytest

from relays import Component
from relays_http import (
    Controller,
    Gateway,
    JSONController,
    Request,
    Response,
    Server,
    VirtualHosts,
    expose,
)
from relays_http.testing import serve_in_thread

pytestmark = pytest.mark.integration

needs_curl = pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")


class Root(Controller):
    def index(self) -> str:
        return "index"

    def hello(self, name: str = "world", *, greeting: str = "hello") -> str:
        return f"{greeting} {name}"

    @expose(methods=["POST"])
    def echo(self) -> dict[str, Any]:
        return {"size": len(self.request.content), "head": self.request.content[:8].decode()}

    def count(self, upto: int) -> Iterator[str]:
        return (f"{index}\n" for index in range(upto))  # streamed: chunked on 1.1

    def form(self, *, name: str, tags: list[str] | None = None) -> dict[str, Any]:
        return {"name": name, "tags": tags or []}


class Api(JSONController):
    channel = "/api"

    def GET(self, ident: int) -> dict[str, int]:
        return {"ident": ident}

    def DELETE(self, ident: int) -> dict[str, bool]:
        return {"deleted": True}


class Plain(Component):
    channel = "web"

    def request(self, request: Request, response: Response) -> str | None:
        return "plain" if request.path == "/plain" else None


def make_flask() -> flask.Flask:
    app = flask.Flask("relays_integration")

    @app.route("/")
    def index() -> str:
        return "flask index"

    @app.route("/hello/<name>", methods=["GET", "POST"])
    def hello(name: str) -> Any:
        return {
            "name": name,
            "form": flask.request.form.get("f"),
            "url": flask.url_for("hello", name="z"),
        }

    @app.route("/stream")
    def stream() -> Any:
        return flask.Response(f"{n}," for n in range(5))

    return app


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    app = (
        Server("tcp://127.0.0.1:0")
        + VirtualHosts({"legacy.test": "/flask"})
        + Gateway({"/flask": make_flask()})
        + Root()
        + Api()
        + Plain()
    )
    with serve_in_thread(app) as running:
        yield running


def connection(server: Server) -> http.client.HTTPConnection:
    return http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)


def fetch(url: str, data: bytes | None = None, **headers: str) -> tuple[int, Any, bytes]:
    request = urllib.request.Request(url, data=data, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        with error:
            return error.code, error.headers, error.read()


def curl(*arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["curl", "--http1.1", "-sS", "--max-time", "10", *arguments],
        capture_output=True,
        text=True,
        check=True,
    )


def test_controllers_with_http_client(server: Server) -> None:
    client = connection(server)
    answers = []
    for method, target in [
        ("GET", "/"),
        ("GET", "/hello/ann?greeting=hi"),
        ("GET", "/api/7"),
        ("DELETE", "/api/7"),
        ("GET", "/plain"),
        ("GET", "/api/seven"),
        ("PUT", "/api"),
        ("GET", "/echo"),
        ("OPTIONS", "/echo"),
    ]:
        client.request(method, target)
        response = client.getresponse()
        answers.append((response.status, response.getheader("Allow"), response.read()))
    client.close()
    assert answers == [
        (200, None, b"index"),
        (200, None, b"hi ann"),
        (200, None, b'{"ident":7}'),
        (200, None, b'{"deleted":true}'),
        (200, None, b"plain"),
        (404, None, answers[5][2]),
        (405, "DELETE, GET, HEAD, OPTIONS", answers[6][2]),
        (405, "OPTIONS, POST", answers[7][2]),
        (204, "OPTIONS, POST", b""),
    ]


def test_controller_form_with_urllib(server: Server) -> None:
    form = urllib.parse.urlencode([("name", "ann"), ("tags", "a"), ("tags", "b")]).encode()
    status, _, body = fetch(f"{server.url}form", form)
    assert (status, json.loads(body)) == (200, {"name": "ann", "tags": ["a", "b"]})
    assert fetch(f"{server.url}form", b"other=1")[0] == 404  # a required field is missing


@needs_curl
def test_curl_chunked_request_and_response(server: Server, tmp_path: Path) -> None:
    upload = tmp_path / "body.bin"
    upload.write_bytes(b"chunked!" * 10_000)
    result = curl(
        "-v", "-H", "Transfer-Encoding: chunked", "-H", "Content-Type: application/octet-stream",
        "--data-binary", f"@{upload}",
        f"{server.url}echo",
    )  # fmt: skip
    assert json.loads(result.stdout) == {"size": 80_000, "head": "chunked!"}
    assert "Transfer-Encoding: chunked" in result.stderr  # curl did send it chunked
    result = curl("-i", f"{server.url}count/3")
    head, _, body = result.stdout.partition("\n\n")  # text mode: CRLF read as LF
    assert "transfer-encoding: chunked" in head.lower()
    assert body == "0\n1\n2\n"


@needs_curl
def test_curl_expect_100_continue_with_a_large_body(server: Server, tmp_path: Path) -> None:
    upload = tmp_path / "large.bin"
    upload.write_bytes(b"0123456789" * 200_000)
    result = curl(
        "-v", "-H", "Expect: 100-continue", "-H", "Content-Type: application/octet-stream",
        "--data-binary", f"@{upload}", f"{server.url}echo",
    )  # fmt: skip
    assert json.loads(result.stdout) == {"size": 2_000_000, "head": "01234567"}
    assert "HTTP/1.1 100 Continue" in result.stderr


def test_flask_through_the_gateway(server: Server) -> None:
    base = f"{server.url}flask"
    assert fetch(f"{base}/")[2] == b"flask index"
    status, _, body = fetch(f"{base}/hello/ann", b"f=v")
    assert (status, json.loads(body)) == (
        200,
        {"name": "ann", "form": "v", "url": "/flask/hello/z"},
    )
    client = connection(server)
    client.request("GET", "/flask/stream")
    response = client.getresponse()
    assert (response.getheader("Transfer-Encoding"), response.read()) == ("chunked", b"0,1,2,3,4,")
    client.close()
    # Under its virtual host the application is at the root of the client's URL space.
    status, _, body = fetch(f"{server.url}hello/bob", Host="legacy.test")
    assert (status, json.loads(body)["url"]) == (200, "/hello/z")
