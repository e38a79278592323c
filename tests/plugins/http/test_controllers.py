"""Controllers: pages, verbs, 405 and OPTIONS, arguments, forms, async pages, JSON."""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

import pytest

from relays import handler
from relays.testing import MemoryTransport
from relays_http import BaseServer, NotFound, Response, UploadedFile
from relays_http._controllers import BaseController, Controller, JSONController, expose
from relays_http._dispatcher import Dispatcher
from relays_http.testing import Client, memory_server


def serve(*apps: Any, **options: Any) -> tuple[BaseServer, MemoryTransport]:
    return memory_server(Dispatcher(), *apps, **options)


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
        client = Client(transport)
        assert (await client.request("GET", "/")).body == b"index"
        assert (await client.request("GET", "/index")).body == b"index"
        assert (await client.request("GET", "/hello")).body == b"hello world"
        assert (await client.request("GET", "/hello/bob")).body == b"hello bob"
        assert (await client.request("GET", "/hello?name=ann&greeting=hi")).body == b"hi ann"
        assert (await client.request("GET", "/robots.txt")).body == b"User-agent: *"
        assert (await client.request("GET", "/robots")).status == 404
        assert (await client.request("GET", "/explicit")).body == b"exposed"
        for hidden in ("/_private", "/ping", "/helper", "/explicit/hidden", "/request", "/fire"):
            assert (await client.request("GET", hidden)).status == 404, hidden


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
        response = await Client(transport).get(target)
        assert (response.status, response.body) == (200, expected)


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
            status, _, _ = await Client(transport).request("GET", target)
    assert status == 404
    assert "TypeError" not in caplog.text


async def test_var_keyword_takes_every_field(site: tuple[BaseServer, MemoryTransport]) -> None:
    server, transport = site
    async with server:
        _, _, body = await Client(transport).request("GET", "/anything/a/b?x=1&y=2&y=3")
    assert json.loads(body) == {"args": ["a", "b"], "fields": {"x": "1", "y": ["2", "3"]}}


async def test_methods_405_allow_options_head(site: tuple[BaseServer, MemoryTransport]) -> None:
    server, transport = site
    async with server:
        client = Client(transport)
        status, headers, _ = await client.request("GET", "/submit?name=x")
        assert (status, headers["allow"]) == (405, "OPTIONS, POST")
        form = {"Content-Type": "application/x-www-form-urlencoded"}
        assert (
            await client.request("POST", "/submit", headers=form, body=b"name=z")
        ).body == b"got z"
        status, headers, _ = await client.request("OPTIONS", "/submit")
        assert (status, headers["allow"]) == (204, "OPTIONS, POST")
        assert (await client.request("PUT", "/item")).body == b"PUT"
        status, headers, body = await client.request("HEAD", "/item")
        assert (status, headers["content-length"], body) == (200, "4", b"")  # "HEAD"
        status, headers, _ = await client.request("DELETE", "/item")
        assert (status, headers["allow"]) == (405, "GET, HEAD, OPTIONS, PUT")
        status, headers, _ = await client.request("OPTIONS", "/hello")
        assert status == 204
        assert "PATCH" in headers["allow"]


async def test_verb_methods(site: tuple[BaseServer, MemoryTransport]) -> None:
    server, transport = site
    async with server:
        client = Client(transport)
        assert (await client.request("GET", "/things")).body == b"get None"
        assert (await client.request("GET", "/things/7")).body == b"get 7"
        assert (await client.request("GET", "/things/seven")).status == 404
        assert (await client.request("POST", "/things")).body == b"post"
        assert (await client.request("HEAD", "/things")).status == 200
        assert (await client.request("GET", "/things/edit/3")).body == b"edit 3"
        status, headers, _ = await client.request("PATCH", "/things")
        assert (status, headers["allow"]) == (405, "GET, HEAD, OPTIONS, POST")
        status, headers, _ = await client.request("OPTIONS", "/things")
        assert (status, headers["allow"]) == (204, "GET, HEAD, OPTIONS, POST")


async def test_helpers_and_errors(
    site: tuple[BaseServer, MemoryTransport], caplog: pytest.LogCaptureFixture
) -> None:
    server, transport = site
    async with server:
        client = Client(transport)
        assert (await client.request("GET", "/nothing")).status == 404
        status, _, body = await client.request("GET", "/missing")
        assert (status, b"no such page" in body) == (404, True)
        assert (await client.request("GET", "/gone")).status == 404
        assert (await client.request("GET", "/secret")).status == 403
        status, headers, _ = await client.request("GET", "/moved")
        assert (status, headers["location"]) == (301, "/hello")
        assert (await client.request("GET", "/status")).status == 201
        _, _, body = await client.request("GET", "/who", headers={"Cookie": "a=b"})
        assert json.loads(body) == {"uri": "http://test/who", "cookie": {"a": "b"}, "path": "/who"}
        with caplog.at_level(logging.ERROR):
            status, _, body = await client.request("GET", "/boom")
            assert (status, b"secret detail" in body) == (500, False)
            status, _, body = await client.request("GET", "/aboom")
            assert (status, b"async secret" in body) == (500, False)
    assert "secret detail" in caplog.text
    assert "async secret" in caplog.text


async def test_async_pages_see_their_own_request(
    site: tuple[BaseServer, MemoryTransport],
) -> None:
    server, transport = site
    async with server:
        slow, fast = Client(transport), Client(transport)
        answers = await asyncio.gather(slow.get("/delay/slow?n=1"), fast.get("/delay/fast?n=2"))
    assert [body for _, _, body in answers] == [b"slow:1:1", b"fast:2:2"]


async def test_multipart_form_fills_arguments(site: tuple[BaseServer, MemoryTransport]) -> None:
    body = (
        b'--X\r\nContent-Disposition: form-data; name="title"\r\n\r\nT\r\n'
        b'--X\r\nContent-Disposition: form-data; name="file"; filename="a.txt"\r\n'
        b"Content-Type: text/plain\r\n\r\ncontent\r\n--X--\r\n"
    )
    server, transport = site
    async with server:
        client = Client(transport)
        headers = {"Content-Type": "multipart/form-data; boundary=X"}
        status, _, answer = await client.request("POST", "/upload", headers=headers, body=body)
        assert (status, json.loads(answer)) == (200, {"title": "T", "file": "content"})
        form = {"Content-Type": "application/x-www-form-urlencoded"}
        status, _, _ = await client.request("POST", "/upload", headers=form, body=b"title=T&x=1")
        assert status == 404


async def test_json_controller(site: tuple[BaseServer, MemoryTransport]) -> None:
    server, transport = site
    async with server:
        client = Client(transport)
        status, headers, body = await client.request("GET", "/api")
        assert (status, headers["content-type"], json.loads(body)) == (
            200,
            "application/json",
            {"answer": 42},
        )
        assert json.loads((await client.request("GET", "/api/text")).body) == "a string"
        assert json.loads((await client.request("GET", "/api/later")).body) == [1, 2]
        status, headers, body = await client.request("GET", "/api/fail")
        assert (status, headers["content-type"]) == (404, "application/json")
        assert json.loads(body)["description"] == "no such record"
        status, headers, body = await client.request("PUT", "/api/text")
        assert (status, headers["content-type"]) == (405, "application/json")
        assert (await client.request("DELETE", "/api")).status == 404
        assert (await client.request("POST", "/api")).status == 200  # index takes the other verbs


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
        client = Client(transport)
        assert (await client.request("GET", "/")).body == b"child"
        assert (await client.request("GET", "/robots.txt")).body == b"still robots.txt"
        assert (await client.request("GET", "/hello")).body == b"hello world"


async def test_returned_response_is_sent() -> None:
    class Made(Controller):
        def index(self) -> Response:
            return Response("made", 202, headers={"X-Made": "yes"})

    server, transport = serve(Made())
    async with server:
        status, headers, body = await Client(transport).request("GET", "/")
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
