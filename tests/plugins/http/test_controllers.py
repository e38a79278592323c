"""Controllers: pages, verbs, 405 and OPTIONS, arguments, forms, async pages, JSON."""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any
from unittest.mock import ANY

import h11
import pytest

from relays import handler
from relays.testing import MemoryClient, MemoryTransport
from relays_http import BaseServer, NotFound, Response, UploadedFile
from relays_http._controllers import BaseController, Controller, JSONController, expose
from relays_http._dispatcher import Dispatcher


async def ask(
    client: MemoryClient, method: str, target: str, *, headers: str = "", body: bytes = b""
) -> tuple[int, dict[str, str], bytes]:
    """Send one request on *client* and parse the one response (h11 as the peer)."""
    length = f"Content-Length: {len(body)}\r\n" if body else ""
    head = f"{method} {target} HTTP/1.1\r\nHost: test\r\n{length}{headers}\r\n"
    client.send(head.encode() + body)
    peer = h11.Connection(h11.CLIENT)
    peer.send(h11.Request(method=method, target=target, headers=[("Host", "test")]))
    peer.send(h11.EndOfMessage())
    status, fields, content = 0, {}, b""
    while True:
        event = peer.next_event()
        if event is h11.NEED_DATA:
            await client.wait()
            peer.receive_data(client.take())
        elif isinstance(event, h11.Response):
            status = event.status_code
            fields = {name.decode(): value.decode() for name, value in event.headers}
        elif isinstance(event, h11.Data):
            content += event.data
        elif isinstance(event, h11.EndOfMessage):
            return status, fields, content


def serve(*apps: Any, **options: Any) -> tuple[BaseServer, MemoryTransport]:
    transport = MemoryTransport(channel="web")
    server = BaseServer(transport=transport, **options) + Dispatcher()
    for app in apps:
        server += app
    return server, transport


class Root(Controller):
    def index(self) -> str:
        return "index"

    def hello(self, name: str = "world", *, greeting: str = "hello") -> str:
        return f"{greeting} {name}"

    def add(self, a: int, b: int = 0) -> str:
        return str(a + b)

    def scale(self, x: float) -> str:
        return repr(x * 2)

    def tags(self, tag: list[str]) -> str:
        return ",".join(tag)

    def anything(self, *args: str, **fields: Any) -> dict[str, Any]:
        return {"args": list(args), "fields": fields}

    def required(self, *, token: str) -> str:
        return token

    @expose("robots.txt")
    def robots(self) -> str:
        return "User-agent: *"

    @expose(methods=["POST"])
    def submit(self, name: str) -> str:
        return f"got {name}"

    @expose(methods=["GET", "PUT"])
    def item(self) -> str:
        return self.request.method

    def nothing(self) -> None:
        return None

    def missing(self) -> str:
        raise NotFound("no such page")

    def gone(self) -> Any:
        return self.notfound()

    def secret(self) -> Any:
        return self.forbidden()

    def moved(self) -> Any:
        return self.redirect("/hello", 301)

    def who(self) -> dict[str, Any]:
        return {"uri": self.uri, "cookie": self.cookie, "path": self.request.path}

    def status(self) -> str:
        self.response.status = 201
        return "created"

    def boom(self) -> str:
        raise RuntimeError("secret detail")

    async def delay(self, name: str, n: int) -> str:
        await asyncio.sleep(0.01 if name == "slow" else 0)
        return f"{name}:{self.request.query.get('n')}:{n}"

    async def aboom(self) -> str:
        await asyncio.sleep(0)
        raise RuntimeError("async secret")

    def upload(self, title: str, file: UploadedFile) -> dict[str, str]:
        return {"title": title, "file": file.read().decode()}

    def _private(self) -> str:
        return "no"

    @handler("ping")
    def ping(self) -> str:
        return "an event handler, not a page"

    @handler(False)
    def helper(self) -> str:
        return "not a page either"


class Resource(Controller):
    channel = "/things"

    def GET(self, ident: int | None = None) -> str:
        return f"get {ident}"

    def POST(self) -> str:
        return "post"

    def edit(self, ident: int) -> str:
        return f"edit {ident}"


class Explicit(BaseController):
    channel = "/explicit"

    @expose
    def index(self) -> str:
        return "exposed"

    def hidden(self) -> str:
        return "never"


class Api(JSONController):
    channel = "/api"

    def index(self) -> dict[str, int]:
        return {"answer": 42}

    @expose(methods=["GET"])
    def text(self) -> str:
        return "a string"

    def fail(self) -> Any:
        raise NotFound("no such record")

    def DELETE(self) -> None:
        return None

    async def later(self) -> list[int]:
        await asyncio.sleep(0)
        return [1, 2]


@pytest.fixture
def site() -> tuple[BaseServer, MemoryTransport]:
    return serve(Root(), Resource(), Explicit(), Api())


async def test_pages_and_index(site: tuple[BaseServer, MemoryTransport]) -> None:
    server, transport = site
    async with server:
        client = transport.connect()
        assert (await ask(client, "GET", "/"))[2] == b"index"
        assert (await ask(client, "GET", "/index"))[2] == b"index"
        assert (await ask(client, "GET", "/hello"))[2] == b"hello world"
        assert (await ask(client, "GET", "/hello/bob"))[2] == b"hello bob"
        assert (await ask(client, "GET", "/hello?name=ann&greeting=hi"))[2] == b"hi ann"
        assert (await ask(client, "GET", "/robots.txt"))[2] == b"User-agent: *"
        assert (await ask(client, "GET", "/robots"))[0] == 404
        assert (await ask(client, "GET", "/explicit"))[2] == b"exposed"
        for hidden in ("/_private", "/ping", "/helper", "/explicit/hidden", "/request", "/fire"):
            assert (await ask(client, "GET", hidden))[0] == 404, hidden


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("/add/2/3", b"5"),
        ("/add/2", b"2"),
        ("/add?a=4&b=5", b"9"),
        ("/add/1?b=2", b"3"),
        ("/scale/1.5", b"3.0"),
        ("/tags?tag=a&tag=b", b"a,b"),
        ("/tags/x", b"x"),
        ("/required?token=t", b"t"),
        ("/hello?name=a&name=b", b"hello a"),
    ],
)
async def test_arguments_fit(
    site: tuple[BaseServer, MemoryTransport], target: str, expected: bytes
) -> None:
    server, transport = site
    async with server:
        assert await ask(transport.connect(), "GET", target) == (200, ANY, expected)


@pytest.mark.parametrize(
    "target",
    [
        "/add",  # a required argument missing
        "/add/1/2/3",  # too many segments
        "/add/x",  # not an int
        "/add?a=1&c=2",  # an unknown field
        "/add/1?a=2",  # a field for an argument a segment filled
        "/hello/a/b",
        "/required",  # a keyword-only argument missing
        "/scale/nan-ish",
        "/index/extra",
    ],
)
async def test_arguments_that_do_not_fit_are_404(
    site: tuple[BaseServer, MemoryTransport], target: str, caplog: pytest.LogCaptureFixture
) -> None:
    server, transport = site
    async with server:
        with caplog.at_level(logging.ERROR):
            status, _, _ = await ask(transport.connect(), "GET", target)
    assert status == 404
    assert "TypeError" not in caplog.text


async def test_var_keyword_takes_every_field(site: tuple[BaseServer, MemoryTransport]) -> None:
    server, transport = site
    async with server:
        _, _, body = await ask(transport.connect(), "GET", "/anything/a/b?x=1&y=2&y=3")
    assert json.loads(body) == {"args": ["a", "b"], "fields": {"x": "1", "y": ["2", "3"]}}


async def test_methods_405_allow_options_head(site: tuple[BaseServer, MemoryTransport]) -> None:
    server, transport = site
    async with server:
        client = transport.connect()
        status, headers, _ = await ask(client, "GET", "/submit?name=x")
        assert (status, headers["allow"]) == (405, "OPTIONS, POST")
        form = "Content-Type: application/x-www-form-urlencoded\r\n"
        assert (await ask(client, "POST", "/submit", headers=form, body=b"name=z"))[2] == b"got z"
        status, headers, _ = await ask(client, "OPTIONS", "/submit")
        assert (status, headers["allow"]) == (204, "OPTIONS, POST")
        assert (await ask(client, "PUT", "/item"))[2] == b"PUT"
        status, headers, body = await ask(client, "HEAD", "/item")
        assert (status, headers["content-length"], body) == (200, "4", b"")  # "HEAD"
        status, headers, _ = await ask(client, "DELETE", "/item")
        assert (status, headers["allow"]) == (405, "GET, HEAD, OPTIONS, PUT")
        status, headers, _ = await ask(client, "OPTIONS", "/hello")
        assert status == 204
        assert "PATCH" in headers["allow"]


async def test_verb_methods(site: tuple[BaseServer, MemoryTransport]) -> None:
    server, transport = site
    async with server:
        client = transport.connect()
        assert (await ask(client, "GET", "/things"))[2] == b"get None"
        assert (await ask(client, "GET", "/things/7"))[2] == b"get 7"
        assert (await ask(client, "GET", "/things/seven"))[0] == 404
        assert (await ask(client, "POST", "/things"))[2] == b"post"
        assert (await ask(client, "HEAD", "/things"))[0] == 200
        assert (await ask(client, "GET", "/things/edit/3"))[2] == b"edit 3"
        status, headers, _ = await ask(client, "PATCH", "/things")
        assert (status, headers["allow"]) == (405, "GET, HEAD, OPTIONS, POST")
        status, headers, _ = await ask(client, "OPTIONS", "/things")
        assert (status, headers["allow"]) == (204, "GET, HEAD, OPTIONS, POST")


async def test_helpers_and_errors(
    site: tuple[BaseServer, MemoryTransport], caplog: pytest.LogCaptureFixture
) -> None:
    server, transport = site
    async with server:
        client = transport.connect()
        assert (await ask(client, "GET", "/nothing"))[0] == 404
        status, _, body = await ask(client, "GET", "/missing")
        assert (status, b"no such page" in body) == (404, True)
        assert (await ask(client, "GET", "/gone"))[0] == 404
        assert (await ask(client, "GET", "/secret"))[0] == 403
        status, headers, _ = await ask(client, "GET", "/moved")
        assert (status, headers["location"]) == (301, "/hello")
        assert (await ask(client, "GET", "/status"))[:1] == (201,)
        _, _, body = await ask(client, "GET", "/who", headers="Cookie: a=b\r\n")
        assert json.loads(body) == {"uri": "http://test/who", "cookie": {"a": "b"}, "path": "/who"}
        with caplog.at_level(logging.ERROR):
            status, _, body = await ask(client, "GET", "/boom")
            assert (status, b"secret detail" in body) == (500, False)
            status, _, body = await ask(client, "GET", "/aboom")
            assert (status, b"async secret" in body) == (500, False)
    assert "secret detail" in caplog.text
    assert "async secret" in caplog.text


async def test_async_pages_see_their_own_request(
    site: tuple[BaseServer, MemoryTransport],
) -> None:
    server, transport = site
    async with server:
        slow, fast = transport.connect(), transport.connect()
        answers = await asyncio.gather(
            ask(slow, "GET", "/delay/slow?n=1"), ask(fast, "GET", "/delay/fast?n=2")
        )
    assert [body for _, _, body in answers] == [b"slow:1:1", b"fast:2:2"]


async def test_multipart_form_fills_arguments(site: tuple[BaseServer, MemoryTransport]) -> None:
    body = (
        b'--X\r\nContent-Disposition: form-data; name="title"\r\n\r\nT\r\n'
        b'--X\r\nContent-Disposition: form-data; name="file"; filename="a.txt"\r\n'
        b"Content-Type: text/plain\r\n\r\ncontent\r\n--X--\r\n"
    )
    server, transport = site
    async with server:
        client = transport.connect()
        headers = "Content-Type: multipart/form-data; boundary=X\r\n"
        status, _, answer = await ask(client, "POST", "/upload", headers=headers, body=body)
        assert (status, json.loads(answer)) == (200, {"title": "T", "file": "content"})
        form = "Content-Type: application/x-www-form-urlencoded\r\n"
        status, _, _ = await ask(client, "POST", "/upload", headers=form, body=b"title=T&x=1")
        assert status == 404


async def test_json_controller(site: tuple[BaseServer, MemoryTransport]) -> None:
    server, transport = site
    async with server:
        client = transport.connect()
        status, headers, body = await ask(client, "GET", "/api")
        assert (status, headers["content-type"], json.loads(body)) == (
            200,
            "application/json",
            {"answer": 42},
        )
        assert json.loads((await ask(client, "GET", "/api/text"))[2]) == "a string"
        assert json.loads((await ask(client, "GET", "/api/later"))[2]) == [1, 2]
        status, headers, body = await ask(client, "GET", "/api/fail")
        assert (status, headers["content-type"]) == (404, "application/json")
        assert json.loads(body)["description"] == "no such record"
        status, headers, body = await ask(client, "PUT", "/api/text")
        assert (status, headers["content-type"]) == (405, "application/json")
        assert (await ask(client, "DELETE", "/api"))[0] == 404
        assert (await ask(client, "POST", "/api"))[0] == 200  # index takes the other verbs


def test_expose_checks_its_arguments() -> None:
    with pytest.raises(ValueError, match="HTTP methods"):
        expose(methods=["FETCH"])
    with pytest.raises(TypeError, match="path segments"):
        expose("a/b")


def test_request_outside_a_page_is_an_error() -> None:
    with pytest.raises(RuntimeError, match="only set while a page runs"):
        Root().request  # noqa: B018


def test_pages_of_a_class_are_found_once() -> None:
    assert sorted(Resource._verbs) == ["GET", "POST"]
    assert sorted(Resource._pages) == ["edit"]
    assert "robots.txt" in Root._pages
    assert not {"ping", "helper", "_private", "request", "redirect"} & set(Root._pages)


async def test_overridden_page_stays_a_page() -> None:
    class Child(Root):
        def index(self) -> str:
            return "child"

        def robots(self) -> str:
            return "still robots.txt"

    server, transport = serve(Child())
    async with server:
        client = transport.connect()
        assert (await ask(client, "GET", "/"))[2] == b"child"
        assert (await ask(client, "GET", "/robots.txt"))[2] == b"still robots.txt"
        assert (await ask(client, "GET", "/hello"))[2] == b"hello world"


async def test_returned_response_is_sent() -> None:
    class Made(Controller):
        def index(self) -> Response:
            return Response("made", 202, headers={"X-Made": "yes"})

    server, transport = serve(Made())
    async with server:
        status, headers, body = await ask(transport.connect(), "GET", "/")
    assert (status, headers["x-made"], body) == (202, "yes", b"made")


@pytest.mark.parametrize("name", ["fire", "wait", "call", "register", "redirect", "request"])
def test_page_named_like_the_component_api_is_refused(name: str) -> None:
    def page(self: Any) -> str:
        return "never"

    with pytest.raises(TypeError, match=rf"Clash\.{name} cannot be a page.*@expose\('{name}'\)"):
        type("Clash", (Controller,), {name: page})
    with pytest.raises(TypeError, match="cannot be a page"):
        type("Clash", (BaseController,), {name: expose(page)})


def test_api_names_are_pages_through_expose_with_another_method_name() -> None:
    class Fine(Controller):
        @expose("fire")
        def fire_page(self) -> str:
            return "fired"

        @handler("wait")
        def wait_handler(self) -> None:
            pass

    class Quiet(BaseController):
        def redirect(self, url: str, code: int = 302) -> Any:  # an override, no page
            return super().redirect(url, code)

    assert Fine._pages["fire"].attribute == "fire_page"
    assert "redirect" not in Quiet._pages
