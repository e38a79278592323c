"""``before_request`` and ``before_response``: awaited hooks around the handlers."""

from __future__ import annotations

import asyncio
import http.client
from collections.abc import Iterator
from typing import Any

import pytest

from relays import Component, Event, handler
from relays_http import (
    BeforeRequestEvent,
    BeforeResponseEvent,
    Forbidden,
    Redirect,
    Request,
    Response,
    Server,
)
from relays_http.testing import serve_in_thread

pytestmark = pytest.mark.integration


class App(Component):
    channel = "web"

    def __init__(self) -> None:
        super().__init__()
        self.requests = 0

    async def request(self, request: Request, response: Response) -> Any:
        self.requests += 1
        path = request.path
        if path == "/loaded":
            return f"loaded={request.context.get('loaded')}"
        if path == "/redirect":
            raise Redirect("/home")
        if path == "/fail":
            raise RuntimeError("boom")
        if path == "/own":
            return Response("own", status=201)
        if path == "/stream":
            return iter([b"a", b"b"])
        if path == "/missing":
            return None
        return "hello"


class Hooks(Component):
    channel = "web"

    def __init__(self) -> None:
        super().__init__()
        self.results: list[Any] = []

    @handler("before_request")
    async def _prepare(self, request: Request, response: Response) -> Any:
        await asyncio.sleep(0.01)  # a store access: the request handlers wait for it
        request.context["loaded"] = "yes"
        if request.path == "/refused":
            return Forbidden("refused before the handlers")
        return None

    @handler("before_response")
    async def _finish(self, request: Request, response: Response, result: Any) -> Any:
        self.results.append(result)
        await asyncio.sleep(0.01)  # a store write: the response waits for it
        target = result if isinstance(result, Response) else response
        target.set_cookie("saved", "1")
        if request.path == "/replace":
            return {"replaced": True}
        if request.path == "/deny":
            raise Forbidden("no")
        if request.path == "/hookfails":
            raise RuntimeError("hook boom")
        return None


@pytest.fixture
def served() -> Iterator[tuple[Server, App, Hooks]]:
    app, hooks = App(), Hooks()
    with serve_in_thread(Server("tcp://127.0.0.1:0") + app + hooks) as server:
        yield server, app, hooks


def fetch(server: Server, target: str) -> http.client.HTTPResponse:
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
    connection.request("GET", target)
    response = connection.getresponse()
    response.read()
    connection.close()
    return response


def test_event_names() -> None:
    assert (BeforeRequestEvent.name, BeforeResponseEvent.name) == (
        "before_request",
        "before_response",
    )


def test_before_request_is_awaited_before_the_handlers(served) -> None:
    server, _, _ = served
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
    connection.request("GET", "/loaded")
    assert connection.getresponse().read() == b"loaded=yes"
    connection.close()


def test_before_request_may_answer(served) -> None:
    server, app, hooks = served
    response = fetch(server, "/refused")
    assert response.status == 403
    assert app.requests == 0
    assert isinstance(hooks.results[0], Forbidden)
    assert response.getheader("Set-Cookie", "").startswith("saved=1")  # 4xx: kept


@pytest.mark.parametrize(
    ("target", "status", "cookie"),
    [
        ("/", 200, True),
        ("/own", 201, True),  # set on the handler's own Response
        ("/stream", 200, True),
        ("/redirect", 303, True),  # cookies on response survive onto 3xx and 4xx pages
        ("/missing", 404, True),
        ("/fail", 500, False),  # never onto a 5xx page
        ("/replace", 200, True),
        ("/deny", 403, True),
        ("/hookfails", 500, False),
    ],
)
def test_cookies_set_before_the_response_are_sent(served, target, status, cookie) -> None:
    server, _, _ = served
    response = fetch(server, target)
    assert response.status == status
    assert (response.getheader("Set-Cookie") or "").startswith("saved=1") is cookie


def test_the_result_is_what_the_handlers_answered(served) -> None:
    server, _, hooks = served
    fetch(server, "/")
    fetch(server, "/own")
    fetch(server, "/redirect")
    fetch(server, "/missing")
    hello, own, redirect, missing = hooks.results
    assert hello == "hello"
    assert isinstance(own, Response)
    assert own.status == 201
    assert isinstance(redirect, Redirect)
    assert missing is None


def test_a_replacement_is_sent(served) -> None:
    server, _, _ = served
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
    connection.request("GET", "/replace")
    response = connection.getresponse()
    assert (response.status, response.read()) == (200, b'{"replaced":true}')
    connection.close()


def test_request_is_seen_once_by_a_high_priority_handler() -> None:
    seen: list[str] = []

    class Early(Component):
        channel = "web"

        @handler("request", priority=100_000)
        def _note(self, event: Event, request: Request, response: Response) -> None:
            seen.append(request.path)

    with serve_in_thread(Server("tcp://127.0.0.1:0") + App() + Hooks() + Early()) as server:
        fetch(server, "/")
    assert seen == ["/"]
