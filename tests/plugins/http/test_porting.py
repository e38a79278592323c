"""What a circuits user trips over: cookie values with ``.value``, error pages of one's own,
``.status`` on errors, and a debug 404 that names the parameter that did not fit."""

from __future__ import annotations

import gzip
import html
import logging
from typing import Any

import pytest

from relays import Component
from relays_http import (
    Compression,
    Controller,
    Dispatcher,
    ErrorPages,
    Forbidden,
    HTTPError,
    NotFound,
    Redirect,
    Request,
    Response,
    Unauthorized,
)
from relays_http.testing import Client, memory_server


class Root(Controller):
    def index(self) -> str:
        return "index"

    def visit(self) -> str:
        cookie = self.cookie.get("seen")
        shown = cookie.value if cookie is not None else "never"
        return f"{self.cookie['name'].value} seen {shown} ({self.cookie['name'].key})"

    def add(self, a: int, b: int = 0) -> str:
        return str(a + b)

    async def later(self, count: int) -> str:
        return str(count)

    def private(self) -> str:
        raise Unauthorized(challenge='Basic realm="x"')

    def secret(self) -> str:
        self.response.set_cookie("tried", "1")
        raise Forbidden("not for you")

    def broken(self) -> str:
        self.response.set_cookie("tried", "1")
        raise RuntimeError("a secret detail")

    def moved(self) -> Redirect:
        return Redirect("/")


def test_status_is_the_one_name_and_code_its_alias() -> None:
    error = NotFound()
    assert (error.status, error.code) == (404, 404)
    error.status = 410
    assert error.code == 410
    assert HTTPError(418).status == Response(status=418).status


async def test_cookie_values_have_circuits_value() -> None:
    server, transport = memory_server(Dispatcher(), Root())
    async with server:
        response = await Client(transport).get("/visit", headers={"Cookie": "name=ann"})
        assert response.text == "ann seen never (name)"


def page_for(request: Request, error: HTTPError) -> str:
    return f"<h1>{error.status}</h1><p>{error.description}</p>" + " " * 300


async def test_error_pages_of_ones_own() -> None:
    pages = ErrorPages(
        {404: lambda request, error: f"nothing at {request.path}"}, default=page_for
    )
    server, transport = memory_server(Dispatcher(), pages, Root())
    async with server:
        client = Client(transport)
        missing = await client.get("/nowhere")
        assert (missing.status, missing.text) == (404, "nothing at /nowhere")
        private = await client.get("/private")
        assert private.status == 401
        assert private.headers["www-authenticate"] == 'Basic realm="x"'
        assert private.text.startswith("<h1>401</h1>")
        secret = await client.get("/secret")
        assert (secret.status, secret.headers["set-cookie"][:7]) == (403, "tried=1")
        moved = await client.get("/moved")
        assert (moved.status, moved.headers["location"]) == (303, "/")


async def test_a_crash_gets_the_500_page_without_its_details(
    caplog: pytest.LogCaptureFixture,
) -> None:
    server, transport = memory_server(Dispatcher(), ErrorPages(default=page_for), Root())
    async with server:
        with caplog.at_level(logging.ERROR):
            broken = await Client(transport).get("/broken")
        assert broken.status == 500
        assert broken.text.startswith("<h1>500</h1>")
        assert "secret detail" not in broken.text
        assert "set-cookie" not in broken.headers
        assert "a secret detail" in caplog.text


async def test_a_page_maker_may_answer_with_a_response_or_fail(
    caplog: pytest.LogCaptureFixture,
) -> None:
    def teapot(request: Request, error: HTTPError) -> Response:
        return Response("short and stout", 418)

    def failing(request: Request, error: HTTPError) -> str:
        raise ValueError("the maker broke")

    server, transport = memory_server(
        Dispatcher(), ErrorPages({404: teapot, 401: failing}), Root()
    )
    async with server:
        client = Client(transport)
        assert (await client.get("/nowhere")).status == 418
        with caplog.at_level(logging.ERROR):
            fallback = await client.get("/private")
        assert fallback.status == 401
        assert "the maker broke" in caplog.text


async def test_error_pages_are_compressed_like_pages() -> None:
    server, transport = memory_server(
        Dispatcher(), ErrorPages(default=page_for), Compression(), Root()
    )
    async with server:
        response = await Client(transport).get("/nowhere", headers={"Accept-Encoding": "gzip"})
        assert response.status == 404
        assert gzip.decompress(response.body).decode().startswith("<h1>404</h1>")


def test_error_page_codes_are_checked() -> None:
    with pytest.raises(ValueError, match="300 to 599"):
        ErrorPages({200: page_for})


@pytest.mark.parametrize(
    ("target", "reason"),
    [
        ("/add?a=x", "field 'a' does not fit: 'x'"),
        ("/add?a=1&c=2", "field 'c' is not a parameter of the page"),
        ("/add", "required parameter 'a' is missing"),
        ("/add/1/2/3", "3 path segment(s) for 2 parameter(s): '3'"),
        ("/add/x", "path segment 'x' does not fit parameter 'a'"),
        ("/add/1?a=2", "field 'a' is given twice"),
        ("/later?count=many", "field 'count' does not fit: 'many'"),
    ],
)
async def test_a_debug_404_names_the_parameter(
    target: str, reason: str, caplog: pytest.LogCaptureFixture
) -> None:
    server, transport = memory_server(Dispatcher(), Root(), debug=True)
    async with server:
        with caplog.at_level(logging.INFO, logger="relays.http"):
            response = await Client(transport).get(target)
        assert response.status == 404
        assert reason in html.unescape(response.text)
        assert "Root." in response.text
        assert reason in caplog.text


async def test_without_debug_only_the_log_says_why(caplog: pytest.LogCaptureFixture) -> None:
    server, transport = memory_server(Dispatcher(), Root())
    async with server:
        with caplog.at_level(logging.INFO, logger="relays.http"):
            response = await Client(transport).get("/add?a=x")
        assert response.status == 404
        assert "does not fit" not in response.text
        assert "field 'a' does not fit" in caplog.text


async def test_a_plain_handler_still_gets_what_no_page_takes() -> None:
    class Fallback(Component):
        channel = "web"

        def request(self, request: Request, response: Response) -> Any:
            return "fallback"

    server, transport = memory_server(Dispatcher(), Root(), Fallback(), debug=True)
    async with server:
        response = await Client(transport).get("/add?a=x")
        assert (response.status, response.text) == (200, "fallback")
