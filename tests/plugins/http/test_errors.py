"""The HTTPError family and error pages."""

from __future__ import annotations

import json

import pytest

from relays_http import (
    BadRequest,
    HTTPError,
    MethodNotAllowed,
    NotFound,
    Redirect,
    ServiceUnavailable,
    Unauthorized,
)
from relays_http._errors import prefers_json, render_error_body


def test_codes_and_descriptions() -> None:
    assert (NotFound().code, NotFound().name) == (404, "Not Found")
    assert BadRequest("no name").description == "no name"
    assert HTTPError(418).name == "I'm a Teapot"
    assert str(NotFound("x")) == "404 Not Found: x"
    with pytest.raises(ValueError, match="300 to 599"):
        HTTPError(200)


def test_errors_carry_their_fields() -> None:
    # Read through the headers object, whose names are case-insensitive.
    assert MethodNotAllowed(["GET", "HEAD"]).headers["Allow"] == "GET, HEAD"
    assert Unauthorized(challenge='Basic realm="x"').headers["WWW-Authenticate"] == (
        'Basic realm="x"'
    )
    assert ServiceUnavailable(retry_after=30).headers["Retry-After"] == "30"
    redirect = Redirect("/there", 308)
    assert (redirect.code, redirect.headers["Location"]) == (308, "/there")
    with pytest.raises(ValueError, match="redirect code"):
        Redirect("/", 300)


@pytest.mark.parametrize(
    ("accept", "expected"),
    [
        (None, False),
        ("text/html", False),
        ("application/json", True),
        ("application/problem+json", True),
        ("text/html, application/json;q=0.9", False),
        ("text/html;q=0.5, application/json", True),
        ("*/*", False),
        ("application/json;q=0", False),
        ("application/json;q=nonsense", False),
    ],
)
def test_prefers_json(accept: str | None, expected: bool) -> None:
    assert prefers_json(accept) is expected


def test_pages_escape_everything() -> None:
    body, content_type = render_error_body(BadRequest("<script>"), as_json=False)
    assert b"<script>" not in body
    assert b"&lt;script&gt;" in body
    assert content_type.startswith("text/html")
    body, content_type = render_error_body(NotFound(), as_json=True, traceback="tb")
    assert json.loads(body) == {
        "status": 404,
        "error": "Not Found",
        "description": NotFound().description,
        "traceback": "tb",
    }
