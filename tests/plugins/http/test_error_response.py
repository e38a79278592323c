"""relays_http.error_response: the one page a failed request gets, under every server."""

from __future__ import annotations

import json

import pytest

from relays_http import Cookie, NotFound, Redirect, Response, error_response


def _failure() -> ValueError:
    try:
        raise ValueError("the secret detail")
    except ValueError as error:
        return error


def test_an_http_error_is_answered_as_it_is_and_nothing_is_reported() -> None:
    reported: list[str] = []
    page = error_response(NotFound(), Response(), accept=None, debug=False, report=reported.append)
    assert page.status == 404
    assert page.headers["content-type"] == "text/html; charset=utf-8"
    assert page.headers["x-content-type-options"] == "nosniff"
    assert b"404 Not Found" in page.body
    assert reported == []


@pytest.mark.parametrize("debug", [False, True])
def test_another_error_is_a_500_reported_with_details_only_in_debug(debug: bool) -> None:
    reported: list[str] = []
    page = error_response(
        _failure(), Response(), accept="application/json", debug=debug, report=reported.append
    )
    document = json.loads(page.body)
    assert (page.status, page.headers["content-type"]) == (500, "application/json")
    assert (document["status"], document["error"]) == (500, "Internal Server Error")
    assert ("traceback" in document) == debug
    assert ("the secret detail" in page.body.decode()) == debug
    assert len(reported) == 1
    assert "ValueError: the secret detail" in reported[0]


def test_an_error_reported_already_is_not_reported_again() -> None:
    page = error_response(_failure(), Response(), accept=None, debug=False, report=None)
    assert page.status == 500


def test_cookies_go_with_a_redirect_not_with_a_500() -> None:
    response = Response()
    response.cookies["session"] = Cookie("session", "abc")
    redirect = error_response(Redirect("/home"), response, accept=None, debug=False, report=None)
    assert list(redirect.cookies) == ["session"]
    assert redirect.headers["location"] == "/home"
    failure = error_response(_failure(), response, accept=None, debug=False, report=None)
    assert list(failure.cookies) == []
