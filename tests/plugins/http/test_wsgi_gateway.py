"""The WSGI Gateway: environ, streaming, backpressure, errors, close(), and a Flask app."""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any
from wsgiref.validate import validator

import flask
import pytest

from relays import Component
from relays_http import Request, Response, WSGIHeadError
from relays_http._wsgi_gateway import Gateway, build_environ
from relays_http.testing import Client, memory_server

StartResponse = Callable[..., Any]


serve = memory_server


def environ_app(environ: dict[str, Any], start_response: StartResponse) -> list[bytes]:
    body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
    shown = {
        key: value for key, value in environ.items() if isinstance(value, str) and key.isupper()
    }
    shown["body"] = body.decode()
    start_response("200 OK", [("Content-Type", "application/json")])
    return [json.dumps(shown).encode()]


class Closing:
    """A result iterable that records its close(), as PEP 3333 requires it be called."""

    closed = threading.Event()

    def __init__(self, chunks: list[bytes]) -> None:
        self.chunks = chunks

    def __iter__(self) -> Iterator[bytes]:
        yield from self.chunks

    def close(self) -> None:
        type(self).closed.set()


def streaming_app(environ: dict[str, Any], start_response: StartResponse) -> Any:
    start_response("200 OK", [("Content-Type", "text/plain"), ("Connection", "close")])
    if environ["PATH_INFO"] == "/closing":
        return Closing([b"a", b"b"])

    def chunks() -> Iterator[bytes]:
        yield b""  # PEP 3333: no head before the first non-empty chunk
        for index in range(3):
            yield f"{index}\n".encode()

    return chunks()


def failing_app(environ: dict[str, Any], start_response: StartResponse) -> Any:
    path = environ["PATH_INFO"]
    if path == "/before":
        raise RuntimeError("secret failure")
    if path == "/nostart":
        return [b"x"]
    if path == "/excinfo":
        start_response("200 OK", [("Content-Type", "text/plain")])
        try:
            raise ValueError("oops")
        except ValueError:
            import sys

            start_response("503 Unavailable", [("Content-Type", "text/plain")], sys.exc_info())
        return [b"replaced"]
    if path.startswith("/status/"):
        start_response(path[len("/status/") :].replace("_", " "), [])
        return [b"never sent"]
    if path == "/write":
        write = start_response("200 OK", [("Content-Type", "text/plain")])
        write(b"written ")
        return [b"returned"]

    def midway() -> Iterator[bytes]:
        yield b"start"
        raise RuntimeError("midway")

    start_response("200 OK", [("Content-Type", "text/plain")])
    return midway()


def make_flask() -> flask.Flask:
    app = flask.Flask("relays_test")

    @app.route("/")
    def index() -> str:
        return "flask index"

    @app.route("/hello/<name>", methods=["GET", "POST"])
    def hello(name: str) -> Any:
        return {
            "name": name,
            "arg": flask.request.args.get("x"),
            "form": flask.request.form.get("f"),
            "script_root": flask.request.script_root,
            "url": flask.url_for("hello", name="z"),
        }

    @app.route("/stream")
    def stream() -> Any:
        return flask.Response(f"{n}," for n in range(5))

    @app.route("/cookie")
    def cookie() -> Any:
        response = flask.make_response("set")
        response.set_cookie("k", "v")
        return response

    return app


class Fallback(Component):
    channel = "web"

    def request(self, request: Request, response: Response) -> str:
        return "not wsgi"


async def test_environ_is_pep_3333() -> None:
    gateway = Gateway({"/app": validator(environ_app)})
    server, transport = serve(gateway, Fallback())
    async with server:
        client = Client(transport, peer=("10.1.2.3", 4567))
        status, headers, body = await client.request(
            "POST",
            "/app/sub/path?q=1",
            headers=[
                ("X-Thing", "1"),
                ("X-Thing", "2"),
                ("X_Smuggled", "yes"),
                ("Content-Type", "text/plain"),
            ],
            body=b"payload",
        )
        assert (status, headers["content-type"]) == (200, "application/json")
        environ = json.loads(body)
        assert environ["SCRIPT_NAME"] == "/app"
        assert environ["PATH_INFO"] == "/sub/path"
        assert environ["QUERY_STRING"] == "q=1"
        assert environ["REQUEST_METHOD"] == "POST"
        assert environ["REMOTE_ADDR"] == "10.1.2.3"
        assert environ["HTTP_X_THING"] == "1,2"
        assert "HTTP_X_SMUGGLED" not in environ
        assert environ["CONTENT_TYPE"] == "text/plain"
        assert environ["CONTENT_LENGTH"] == "7"
        assert environ["SERVER_NAME"] == "test"
        assert environ["SERVER_PORT"] == "80"
        assert environ["SERVER_PROTOCOL"] == "HTTP/1.1"
        assert environ["body"] == "payload"
        # Outside every mount: the request goes on to other handlers.
        assert (await client.request("GET", "/application")).body == b"not wsgi"
        assert (await client.request("GET", "/other")).body == b"not wsgi"


def test_build_environ_joins_cookies() -> None:
    request = Request("GET", "/", headers=[(b"cookie", b"a=1"), (b"cookie", b"b=2")])
    environ = build_environ(request)
    assert environ["HTTP_COOKIE"] == "a=1; b=2"
    assert environ["PATH_INFO"] == "/"


async def test_streamed_output_and_close() -> None:
    Closing.closed.clear()
    server, transport = serve(Gateway({"/": validator(streaming_app)}))
    async with server:
        client = Client(transport)
        status, headers, body = await client.request("GET", "/stream")
        assert (status, body) == (200, b"0\n1\n2\n")
        assert headers["transfer-encoding"] == "chunked"
        assert "close" not in headers.get("connection", "")  # hop-by-hop: dropped
        status, headers, body = await client.request("GET", "/closing")
        assert body == b"ab"
    assert Closing.closed.wait(5)


async def test_short_answers_are_sent_whole() -> None:
    # Every time, however the threads are scheduled: the last chunk and the end of the
    # answer reach the loop together.
    def two_chunks(environ: dict[str, Any], start_response: StartResponse) -> Iterator[bytes]:
        start_response("200 OK", [("Content-Type", "text/plain")])
        yield b"one, "
        yield b"two"

    def empty(environ: dict[str, Any], start_response: StartResponse) -> list[bytes]:
        start_response("200 OK", [])
        return [b""]

    server, transport = serve(Gateway({"/two": two_chunks, "/empty": empty, "/": environ_app}))
    async with server:
        client = Client(transport)
        for _ in range(20):
            _, headers, _ = await client.request("GET", "/")
            assert "content-length" in headers
        _, headers, body = await client.request("GET", "/empty")
        assert (headers.get("content-length"), body) == ("0", b"")
        for _ in range(5):
            _, headers, body = await client.request("GET", "/two")
            assert body == b"one, two"
            assert headers.get("transfer-encoding") == "chunked"


async def test_errors(caplog: pytest.LogCaptureFixture) -> None:
    server, transport = serve(Gateway({"/": failing_app}))
    async with server:
        client = Client(transport)
        with caplog.at_level(logging.ERROR):
            status, _, body = await client.request("GET", "/before")
            assert (status, b"secret failure" in body) == (500, False)
            assert (await client.request("GET", "/nostart")).status == 500
        status, _, body = await client.request("GET", "/excinfo")
        assert (status, body) == (503, b"replaced")
        status, _, body = await client.request("GET", "/write")
        assert (status, body) == (200, b"written returned")
        client.send(b"GET /midway HTTP/1.1\r\nHost: t\r\n\r\n")
        received = await client.wait_closed()
        assert b"5\r\nstart\r\n" in received
        assert not received.endswith(b"0\r\n\r\n")
    assert "secret failure" in caplog.text


async def test_backpressure_holds_the_application() -> None:
    produced: list[int] = []

    def big(environ: dict[str, Any], start_response: StartResponse) -> Iterator[bytes]:
        start_response("200 OK", [("Content-Type", "text/plain")])
        for index in range(100):
            produced.append(index)
            yield b"x" * 10

    server, transport = serve(Gateway({"/": big}, buffered_chunks=2))
    async with server:
        client = Client(transport)
        # The memory connection has no drain(): the server's stream yields to the loop
        # between chunks, so the application is never more than a few chunks ahead.
        status, _, body = await client.request("GET", "/")
        assert (status, len(body)) == (200, 1000)
    assert len(produced) == 100


async def test_client_going_away_stops_the_application() -> None:
    stopped = threading.Event()

    def endless(environ: dict[str, Any], start_response: StartResponse) -> Iterator[bytes]:
        start_response("200 OK", [("Content-Type", "text/plain")])
        try:
            while True:
                yield b"more"
                time.sleep(0.001)
        finally:
            stopped.set()

    server, transport = serve(Gateway({"/": endless}, buffered_chunks=1))
    async with server:
        client = Client(transport)
        client.send(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
        await client.connection.wait(lambda data: b"more" in data)
        client.close()
        assert await asyncio.to_thread(stopped.wait, 5)


async def test_flask_app() -> None:
    server, transport = serve(Gateway({"/flask": make_flask()}))
    async with server:
        client = Client(transport)
        assert (await client.request("GET", "/flask/")).body == b"flask index"
        _, _, body = await client.request("GET", "/flask/hello/ann?x=1")
        assert json.loads(body) == {
            "name": "ann",
            "arg": "1",
            "form": None,
            "script_root": "/flask",
            "url": "/flask/hello/z",
        }
        form = {"Content-Type": "application/x-www-form-urlencoded"}
        _, _, body = await client.request("POST", "/flask/hello/b", headers=form, body=b"f=v")
        assert json.loads(body)["form"] == "v"
        assert (await client.request("GET", "/flask/stream")).body == b"0,1,2,3,4,"
        _, headers, _ = await client.request("GET", "/flask/cookie")
        assert headers["set-cookie"].startswith("k=v")
        assert (await client.request("GET", "/flask/missing")).status == 404


@pytest.mark.parametrize("status", ["99999_Whatever", "200", "200OK", "099_Low", "600_High"])
async def test_a_malformed_wsgi_status_is_the_apps_500(
    status: str, caplog: pytest.LogCaptureFixture
) -> None:
    server, transport = serve(Gateway({"/": failing_app}))
    async with server:
        client = Client(transport)
        with caplog.at_level(logging.ERROR):
            response = await client.request("GET", f"/status/{status}")
    assert response.status == 500
    assert b"never sent" not in response.body


def broken_head_app(environ: dict[str, Any], start_response: StartResponse) -> list[bytes]:
    if environ["PATH_INFO"] == "/twice":
        start_response("200 OK", [])
        start_response("200 OK", [])
    else:  # a value that would split the head: a second, forged header
        start_response("200 OK", [("X-Note", "a\r\nSet-Cookie: forged=1")])
    return [b"never sent"]


@pytest.mark.parametrize("path", ["/twice", "/split"])
async def test_start_response_rules_broken_are_the_apps_500(
    path: str, caplog: pytest.LogCaptureFixture
) -> None:
    server, transport = serve(Gateway({"/": broken_head_app}))
    async with server:
        client = Client(transport)
        with caplog.at_level(logging.ERROR):
            response = await client.request("GET", path)
    assert response.status == 500
    assert b"never sent" not in response.body
    assert "set-cookie" not in response.headers
    assert WSGIHeadError.__name__ in caplog.text  # reported as the app's error


async def test_head_to_a_flask_app_keeps_the_length_get_would_send() -> None:
    server, transport = serve(Gateway({"/flask": make_flask()}))
    async with server:
        client = Client(transport)
        get = await client.request("GET", "/flask/")
        head = await client.request("HEAD", "/flask/")
        assert head.status == 200
        assert head.body == b""
        assert head.headers["content-length"] == get.headers["content-length"] == "11"


def test_mount_checks() -> None:
    with pytest.raises(ValueError, match="starts with"):
        Gateway({"app": environ_app})
    with pytest.raises(TypeError, match="callable"):
        Gateway().mount("/", "not an app")  # type: ignore[arg-type]
    gateway = Gateway({"/a": environ_app, "/a/b": streaming_app})
    assert gateway.find("/a/b/c") == ("/a/b", streaming_app)
    assert gateway.find("/a/bc") == ("/a", environ_app)
    assert gateway.find("/") is None


async def test_flask_under_a_virtual_host_sees_the_clients_url_space() -> None:
    from relays_http import VirtualHosts

    server, transport = serve(
        VirtualHosts({"legacy.example.com": "/flask"}),
        Gateway({"/flask": make_flask(), "/direct": validator(environ_app)}),
        Fallback(),
    )
    async with server:
        client = Client(transport, host="legacy.example.com")
        assert (await client.get("/")).body == b"flask index"
        answer = (await client.get("/hello/ann")).json()
        assert (answer["script_root"], answer["url"]) == ("", "/hello/z")
        # Not under a virtual host: the mount path is SCRIPT_NAME as before.
        direct = Client(transport, host="other.example.com")
        environ = (await direct.get("/direct/x")).json()
        assert (environ["SCRIPT_NAME"], environ["PATH_INFO"]) == ("/direct", "/x")
        assert (await direct.get("/hello/ann")).body == b"not wsgi"


def test_build_environ_of_a_rewritten_request() -> None:
    request = Request("GET", "/a/b?x=1", headers=[(b"host", b"h")])
    request.rewrite(path="/site/a/b")
    environ = build_environ(request, script_name="/site")
    assert (environ["SCRIPT_NAME"], environ["PATH_INFO"]) == ("", "/a/b")
    root = Request("GET", "/", headers=[(b"host", b"h")])
    root.rewrite(path="/site/")
    environ = build_environ(root, script_name="/site")
    assert (environ["SCRIPT_NAME"], environ["PATH_INFO"]) == ("", "/")
    elsewhere = Request("GET", "/old/a", headers=[(b"host", b"h")])
    elsewhere.rewrite(path="/site/new")
    environ = build_environ(elsewhere, script_name="/site")
    assert (environ["SCRIPT_NAME"], environ["PATH_INFO"]) == ("/site", "/new")
