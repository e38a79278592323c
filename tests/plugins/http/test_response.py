"""Response: status, headers and cookies, and how Set-Cookie is rendered."""

from __future__ import annotations

import datetime

import pytest

from relays_http import Cookie, Headers, MultiDict, Response


def test_defaults() -> None:
    response = Response()
    assert (response.status, response.body, response.reason) == (200, None, "")
    assert response.content_type is None
    response.content_type = "text/plain"
    assert response.headers["content-type"] == "text/plain"


def test_constructor() -> None:
    response = Response("hi", 201, headers={"X-A": "1"}, content_type="text/plain")
    assert response.headers.allitems() == [("X-A", "1"), ("content-type", "text/plain")]


def test_cookies_are_rendered() -> None:
    response = Response()
    expires = datetime.datetime(2030, 1, 2, 3, 4, 5, tzinfo=datetime.UTC)
    cookie = response.set_cookie(
        "id",
        "abc",
        domain="example.com",
        max_age=60,
        expires=expires,
        secure=True,
        httponly=True,
        samesite="Lax",
    )
    assert cookie.render() == (
        "id=abc; Path=/; Domain=example.com; Max-Age=60; "
        "Expires=Wed, 02 Jan 2030 03:04:05 GMT; Secure; HttpOnly; SameSite=Lax"
    )
    response.delete_cookie("old")
    assert response.cookies["old"].render() == (
        "old=; Path=/; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT"
    )


@pytest.mark.parametrize(
    "options",
    [
        {"name": "bad name"},
        {"name": "ok", "value": "a;b"},
        {"name": "ok", "value": "a\r\nSet-Cookie: x=1"},
        {"name": "ok", "path": "/;Domain=evil"},
        {"name": "ok", "domain": "a\nb"},
        {"name": "ok", "samesite": "Sometimes"},
    ],
)
def test_unsafe_cookies_are_refused(options: dict[str, str]) -> None:
    with pytest.raises(ValueError, match="cookie"):
        Cookie(**options)  # type: ignore[arg-type]


def test_setting_fields_on_empty_and_filled_headers() -> None:
    headers = Headers()
    headers["Content-Type"] = "text/plain"  # the first field: appended at once
    headers["content-type"] = "text/html"  # replaces it, keeping the new spelling
    headers["X"] = "1"
    assert headers.allitems() == [("content-type", "text/html"), ("X", "1")]
    assert headers["CONTENT-TYPE"] == "text/html"


def test_a_blank_response_makes_headers_of_its_own_on_first_use() -> None:
    first, second = Response(), Response()
    assert type(first.headers) is Headers
    assert first.headers == Headers()
    first.headers["Content-Type"] = "text/plain"
    first.headers["content-type"] = "text/html"
    assert first.headers.allitems() == [("content-type", "text/html")]
    assert second.headers.allitems() == []
    assert (second.status, second.body, second.content_type) == (200, None, None)


def test_multidict_and_headers() -> None:
    fields = MultiDict([("a", "1"), ("b", "2"), ("a", "3")])
    assert list(fields) == ["a", "b"]
    assert len(fields) == 2
    assert fields.to_dict() == {"a": ["1", "3"], "b": "2"}
    fields["a"] = "9"
    assert fields.allitems() == [("a", "9"), ("b", "2")]
    del fields["b"]
    assert fields == {"a": "9"}
    with pytest.raises(KeyError):
        del fields["b"]
    headers = Headers()
    headers.add("Set-Cookie", "a=1")
    headers.add("set-cookie", "b=2")
    assert headers.getall("SET-COOKIE") == ["a=1", "b=2"]
    assert "set-cookie" in headers
    assert headers.setdefault("X", "y") == "y"
    assert headers.copy() == headers
