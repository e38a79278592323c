"""``WSGIResponseHead``: PEP 3333's start_response rules, shared by relays-http's WSGI
gateway and relays-resources' WSGIResource."""

from __future__ import annotations

import re
import sys
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from relays_http import WSGIHeadError, WSGIResponseHead

#: What a reason phrase or a header value may hold: Latin-1 but control characters.
ALLOWED_TEXT = st.text(
    st.characters(min_codepoint=0x09, max_codepoint=0xFF).filter(
        lambda char: char == "\t" or not (ord(char) < 0x20 or ord(char) == 0x7F)
    )
)
TOKEN = st.text(
    st.sampled_from(
        "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
    ),
    min_size=1,
)
FORBIDDEN = re.compile(r"[\x00-\x08\x0a-\x1f\x7f\u0100-\U0010ffff]")


def written(data: bytes) -> None:
    raise AssertionError("not called in these tests")


def fresh(**options: Any) -> WSGIResponseHead:
    return WSGIResponseHead(written, **options)


@given(code=st.integers(200, 599), reason=ALLOWED_TEXT)
def test_a_final_status_is_kept_as_given(code: int, reason: str) -> None:
    head = fresh()
    assert head.start_response(f"{code} {reason}", [("X-A", "1")]) is written
    assert head.take() == (f"{code} {reason}", [("X-A", "1")])


@given(status=st.text(max_size=12))
def test_any_status_string_is_kept_or_refused_by_the_grammar(status: str) -> None:
    valid = re.fullmatch(r"[2-5][0-9]{2} [^\x00-\x08\x0a-\x1f\x7f\u0100-\U0010ffff]*", status)
    head = fresh()
    if valid:
        head.start_response(status, [])
        assert head.take() == (status, [])
    else:
        with pytest.raises(WSGIHeadError, match="a WSGI status is three digits"):
            head.start_response(status, [])
        assert not head.started


@given(code=st.integers(100, 199), reason=ALLOWED_TEXT)
def test_an_informational_status_is_taken_only_when_asked_for(code: int, reason: str) -> None:
    with pytest.raises(WSGIHeadError, match="from 200 to 599"):
        fresh().start_response(f"{code} {reason}", [])
    head = fresh(informational=True)
    head.start_response(f"{code} {reason}", [])
    assert head.take() == (f"{code} {reason}", [])


def test_a_status_that_is_not_a_string_is_refused() -> None:
    with pytest.raises(WSGIHeadError, match="not 200"):
        fresh().start_response(200, [])  # type: ignore[arg-type]


@given(name=TOKEN, value=st.text(max_size=20))
def test_a_header_value_is_kept_or_refused_by_its_characters(name: str, value: str) -> None:
    head = fresh()
    if FORBIDDEN.search(value):
        with pytest.raises(WSGIHeadError, match="Latin-1 string without control"):
            head.start_response("200 OK", [(name, value)])
    else:
        head.start_response("200 OK", [(name, value)])
        assert head.take() == ("200 OK", [(name, value)])


@given(name=st.text(max_size=10))
def test_a_header_name_is_an_http_token(name: str) -> None:
    head = fresh()
    if re.fullmatch(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+", name):
        head.start_response("200 OK", [(name, "v")])
    else:
        with pytest.raises(WSGIHeadError, match="header name is an HTTP token"):
            head.start_response("200 OK", [(name, "v")])


@pytest.mark.parametrize("pair", [("only-a-name",), ("a", "b", "c"), ("X", 1), (b"X", "1"), 7])
def test_a_header_that_is_not_a_pair_of_strings_is_refused(pair: Any) -> None:
    with pytest.raises(WSGIHeadError):
        fresh().start_response("200 OK", [pair])


def test_the_headers_are_copied_when_kept() -> None:
    headers = [("X-A", "1")]
    head = fresh()
    head.start_response("200 OK", headers)
    headers.append(("X-B", "2"))  # the application changes its list afterwards
    assert head.take() == ("200 OK", [("X-A", "1")])


def test_a_second_call_without_exc_info_is_an_error() -> None:
    head = fresh()
    head.start_response("200 OK", [])
    with pytest.raises(WSGIHeadError, match="twice without exc_info"):
        head.start_response("500 Oops", [])
    assert head.take() == ("200 OK", [])


def test_exc_info_replaces_the_head_until_it_is_sent_then_reraises() -> None:
    head = fresh()
    head.start_response("200 OK", [("X-A", "1")])
    try:
        raise LookupError("caught by the application")
    except LookupError:
        head.start_response("503 Unavailable", [("Retry-After", "1")], sys.exc_info())
    assert head.take() == ("503 Unavailable", [("Retry-After", "1")])
    assert head.sent
    try:
        raise KeyError("after the head went out")
    except KeyError:
        with pytest.raises(KeyError, match="after the head went out"):
            head.start_response("500 Oops", [], sys.exc_info())
    assert head.take() is None


def test_the_head_goes_out_once_and_only_after_start_response() -> None:
    head = fresh()
    assert not head.started
    with pytest.raises(RuntimeError, match="without calling start_response"):
        head.take()
    head.start_response("204 No Content", [])
    assert head.started
    assert not head.sent
    assert head.take() == ("204 No Content", [])
    assert head.take() is None
    assert head.sent
