"""Application: a relays tree behind WSGI servers (werkzeug's client, wsgiref's server)."""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
import urllib.request
from collections.abc import AsyncIterator, Iterator
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, make_server
from wsgiref.validate import validator

import pytest
from werkzeug.test import Client

from relays import Component
from relays_http import Forbidden, Response
from relays_http._controllers import Controller, JSONController
from relays_http._dispatcher import Dispatcher
from relays_http._wsgi_application import Application
from relays_http.events import ResponseEvent


class Root(Controller):
    def index(self) -> str:
        return "hello from relays"

    def echo(self, name: str = "") -> dict[str, Any]:
        return {
            "name": name,
            "method": self.request.method,
            "path": self.request.path,
            "remote": self.request.remote[0],
            "body": self.request.content.decode(),
        }

    async def later(self) -> str:
        await asyncio.sleep(0)
        return "awaited"

    def chunks(self) -> Iterator[str]:
        return iter(["a", "b", "c"])

    async def achunks(self) -> AsyncIterator[bytes]:
        for part in (b"x", b"y"):
            await asyncio.sleep(0)
            yield part

    def made(self) -> Response:
        response = Response("made", 201, headers={"X-Made": "1"})
        response.set_cookie("k", "v")
        return response

    def secret(self) -> str:
        raise Forbidden("no")

    def boom(self) -> str:
        raise RuntimeError("secret detail")

    def blob(self) -> bytes:
        return b"\x00\x01"


class Api(JSONController):
    channel = "/api"

    def index(self) -> dict[str, int]:
        return {"answer": 42}


class Seen(Component):
    channel = "web"

    def __init__(self) -> None:
        super().__init__(channel="web")
        self.statuses: list[int] = []

    def response(self, request: Any, response: Any) -> None:
        self.statuses.append(response.status)


@pytest.fixture
def application() -> Iterator[Application]:
    app = Application(timeout=5) + Dispatcher() + Root() + Api()
    yield app
    app.close()


def test_pages_through_a_validated_wsgi_client(application: Application) -> None:
    client = Client(validator(application))
    response = client.get("/", buffered=True)
    assert (response.status_code, response.get_data()) == (200, b"hello from relays")
    assert response.headers["Content-Type"] == "text/html; charset=utf-8"
    response = client.post(
        "/echo?name=ann",
        data=b"payload",
        environ_base={"REMOTE_ADDR": "1.2.3.4"},
        buffered=True,
    )
    assert response.json == {
        "name": "ann",
        "method": "POST",
        "path": "/echo",
        "remote": "1.2.3.4",
        "body": "payload",
    }
    assert client.get("/later", buffered=True).get_data() == b"awaited"
    assert client.get("/chunks", buffered=True).get_data() == b"abc"
    assert client.get("/achunks", buffered=True).get_data() == b"xy"
    assert client.get("/api", buffered=True).json == {"answer": 42}
    assert client.get("/blob", buffered=True).headers["Content-Type"] == "application/octet-stream"
    response = client.get("/made", buffered=True)
    assert (response.status_code, response.headers["X-Made"]) == (201, "1")
    assert response.headers["Set-Cookie"].startswith("k=v")


def test_errors_and_404(application: Application, caplog: pytest.LogCaptureFixture) -> None:
    client = Client(validator(application))
    assert client.get("/nowhere/at/all", buffered=True).status_code == 404
    assert client.get("/secret", buffered=True).status_code == 403
    with caplog.at_level(logging.ERROR):
        response = client.get("/boom", buffered=True, headers={"Accept": "application/json"})
        # The kernel logs the failure when it dispatches the ``exception`` event, in the
        # tree's own thread, just after the answer: wait for it, then make sure it stays one.
        deadline = time.monotonic() + 5
        while not _secret_records(caplog) and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(0.1)
    assert response.status_code == 500
    assert response.json is not None
    assert "traceback" not in response.json
    assert b"secret detail" not in response.get_data()
    assert len(_secret_records(caplog)) == 1  # logged once, not twice


def _secret_records(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [record for record in caplog.records if "secret detail" in record.getMessage()]


def test_debug_shows_the_traceback() -> None:
    app = Application(debug=True) + Dispatcher() + Root()
    try:
        response = Client(app).get("/boom", buffered=True, headers={"Accept": "application/json"})
    finally:
        app.close()
    assert "secret detail" in response.json["traceback"]


def test_timeout_is_a_503() -> None:
    class Slow(Component):
        channel = "web"

        async def request(self, request: Any, response: Any) -> str:
            await asyncio.sleep(1)
            return "late"

    app = Application(timeout=0.05) + Slow()
    try:
        assert Client(app).get("/", buffered=True).status_code == 503
    finally:
        app.close()


def test_body_limit_is_a_413() -> None:
    from relays_http import Limits

    app = Application(limits=Limits(max_body_size=4)) + Dispatcher() + Root()
    try:
        assert Client(app).post("/echo", buffered=True, data=b"too long").status_code == 413
    finally:
        app.close()


def test_response_events_fire_after_the_body() -> None:
    seen = Seen()
    app = Application() + Dispatcher() + Root() + seen
    try:
        client = Client(app)
        client.get("/", buffered=True)
        client.get("/missing/page", buffered=True)
        value = app.fire(ResponseEvent(None, Response(status=299)))
        value.get(5)
    finally:
        app.close()
    assert seen.statuses == [200, 404, 299]


@pytest.mark.integration
def test_behind_wsgiref_on_a_socket(application: Application) -> None:
    class Quiet(WSGIRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = make_server("127.0.0.1", 0, validator(application), handler_class=Quiet)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        base = f"http://127.0.0.1:{server.server_port}"
        with urllib.request.urlopen(f"{base}/") as answer:
            assert answer.read() == b"hello from relays"
        post = urllib.request.Request(
            f"{base}/echo/bob", data=b"x", headers={"Content-Type": "text/plain"}
        )
        with urllib.request.urlopen(post) as answer:
            document = json.loads(answer.read())
        assert (document["name"], document["method"], document["remote"]) == (
            "bob",
            "POST",
            "127.0.0.1",
        )
    finally:
        server.shutdown()
        server.server_close()


def call_with_chunked_body(app: Application, body: bytes) -> tuple[str, bytes]:
    """Call *app* as gunicorn does for a chunked request: no CONTENT_LENGTH, and
    ``wsgi.input_terminated`` saying the input ends where the body does."""
    import io
    from wsgiref.util import setup_testing_defaults

    environ: dict[str, Any] = {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": "/echo",
        "CONTENT_TYPE": "text/plain",
        "wsgi.input": io.BytesIO(body),
        "wsgi.input_terminated": True,
    }
    setup_testing_defaults(environ)
    statuses: list[str] = []

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        statuses.append(status)
        return lambda data: None

    result = app(environ, start_response)
    try:
        content = b"".join(result)
    finally:
        getattr(result, "close", lambda: None)()
    return statuses[0], content


@pytest.mark.parametrize("size", [0, 10, 200_000])
def test_input_terminated_body_is_read_to_its_end(size: int) -> None:
    from relays_http import Limits

    limits = Limits(spool_threshold=1024, max_body_size=300_000)
    app = Application(limits=limits) + Dispatcher() + Root()
    try:
        status, content = call_with_chunked_body(app, b"x" * size)
    finally:
        app.close()
    assert status.startswith("200")
    assert json.loads(content)["body"] == "x" * size


def test_input_terminated_body_over_the_limit_is_a_413() -> None:
    from relays_http import Limits

    app = Application(limits=Limits(max_body_size=100)) + Dispatcher() + Root()
    try:
        status, _ = call_with_chunked_body(app, b"x" * 101)
    finally:
        app.close()
    assert status.startswith("413")
