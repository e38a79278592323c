"""response_fields: what gateways (WSGI Application, relays-asgi) send for a Response."""

from __future__ import annotations

from relays_http import Response, response_fields


def test_fields_as_set_then_the_default_type_then_cookies() -> None:
    response = Response()
    response.headers["X-Thing"] = "yes"
    response.set_cookie("id", "42", httponly=True)
    assert response_fields(response, "text/html; charset=utf-8") == [
        ("X-Thing", "yes"),
        ("content-type", "text/html; charset=utf-8"),
        ("set-cookie", "id=42; Path=/; HttpOnly"),
    ]


def test_a_type_the_handler_set_wins_whatever_its_spelling() -> None:
    response = Response()
    response.headers["Content-TYPE"] = "text/plain"
    assert response_fields(response, "application/json") == [("Content-TYPE", "text/plain")]


def test_a_bare_response_has_no_fields_unless_a_type_is_given() -> None:
    assert response_fields(Response()) == []
    assert response_fields(Response(), "application/json") == [
        ("content-type", "application/json")
    ]
