"""The session's cookie jar: cookies go back where they belong, and only there."""

from __future__ import annotations

from collections.abc import Callable
from http.cookiejar import CookieJar
from typing import Any

from scripted import ReceivedRequest, reply

from relays_http.client import Session

Serve = Callable[..., Any]


def cookies_app(request: ReceivedRequest) -> bytes:
    sent = request.headers.get("cookie", "-").encode()
    if request.target == "/login":
        return reply(
            sent,
            headers={"Set-Cookie": "session=abc; Path=/", "X-Other": "1"},
        )
    if request.target == "/scoped":
        return reply(sent, headers={"Set-Cookie": "deep=1; Path=/account"})
    if request.target == "/logout":
        return reply(sent, headers={"Set-Cookie": "session=; Max-Age=0; Path=/"})
    if request.target == "/bounce":
        return reply(b"", "302 Found", {"Set-Cookie": "hop=yes; Path=/", "Location": "/seen"})
    return reply(sent)


async def test_cookies_are_sent_back_by_path_and_expire(serve: Serve) -> None:
    async with serve(cookies_app) as server, Session() as session:
        assert (await session.get(server.url("/login"))).text == "-"
        assert (await session.get(server.url("/page"))).text == "session=abc"
        await session.get(server.url("/scoped"))
        assert (await session.get(server.url("/page"))).text == "session=abc"
        assert "deep=1" in (await session.get(server.url("/account/x"))).text
        await session.get(server.url("/logout"))
        assert (await session.get(server.url("/page"))).text == "-"


async def test_cookies_stay_with_their_host(serve: Serve) -> None:
    async with serve(cookies_app) as server, Session() as session:
        await session.get(server.url("/login"))
        other = await session.get(server.url("/page", host="localhost"))
    assert other.text == "-"  # a cookie of 127.0.0.1 does not go to localhost


async def test_a_cookie_set_by_a_redirect_reaches_its_target(serve: Serve) -> None:
    async with serve(cookies_app) as server, Session() as session:
        response = await session.get(server.url("/bounce"))
    assert response.text == "hop=yes"


async def test_a_jar_can_be_shared_and_a_cookie_header_given(serve: Serve) -> None:
    jar = CookieJar()
    async with serve(cookies_app) as server:
        async with Session(cookies=jar) as session:
            await session.get(server.url("/login"))
        assert [cookie.name for cookie in jar] == ["session"]
        async with Session(cookies=jar) as session:
            assert (await session.get(server.url("/page"))).text == "session=abc"
            mine = await session.get(server.url("/page"), headers={"Cookie": "mine=1"})
            assert mine.text == "mine=1"  # a Cookie header given is sent as it is
