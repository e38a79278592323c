"""ETag, Last-Modified and the preconditions in RFC 9110 13.2.2 order."""

from __future__ import annotations

import os
import pathlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from relays_http import Headers, Request
from relays_static._validators import (
    evaluate_preconditions,
    http_date,
    if_range_allows,
    make_etag,
    parse_etags,
    parse_http_date,
)

ETAG = '"abc-10"'
MODIFIED = 784111777  # Sun, 06 Nov 1994 08:49:37 GMT
BEFORE = http_date(MODIFIED - 60)
AT = http_date(MODIFIED)
AFTER = http_date(MODIFIED + 60)


def request(method: str = "GET", **fields: str) -> Request:
    headers = Headers({name.replace("_", "-"): value for name, value in fields.items()})
    return Request(method, "/f", headers=headers)


def evaluate(method: str = "GET", **fields: str) -> int | None:
    return evaluate_preconditions(request(method, **fields), ETAG, MODIFIED)


def test_etag_is_strong_and_differs_per_coding(tmp_path: pathlib.Path) -> None:
    file = tmp_path / "f"
    file.write_text("x")
    stat = os.stat(file)
    assert make_etag(stat).startswith('"')
    assert make_etag(stat).endswith('"')
    assert make_etag(stat) != make_etag(stat, "br") != make_etag(stat, "gzip")


def test_http_dates_in_all_three_forms() -> None:
    assert http_date(MODIFIED) == "Sun, 06 Nov 1994 08:49:37 GMT"
    assert parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT") == MODIFIED
    assert parse_http_date("Sunday, 06-Nov-94 08:49:37 GMT") == MODIFIED
    assert parse_http_date("Sun Nov  6 08:49:37 1994") == MODIFIED
    assert parse_http_date("yesterday") is None
    assert parse_http_date("") is None


def test_etag_lists() -> None:
    assert parse_etags('"a", W/"b" ,"c,d"') == [(False, '"a"'), (True, '"b"'), (False, '"c,d"')]
    assert parse_etags("*") is None
    assert parse_etags("garbage") == []
    assert parse_etags('"a", junk') == []


@given(st.text(max_size=60))
def test_any_etag_list_parses_or_matches_nothing(value: str) -> None:
    result = parse_etags(value)
    assert result is None or isinstance(result, list)


def test_no_preconditions() -> None:
    assert evaluate() is None


@pytest.mark.parametrize(
    ("fields", "outcome"),
    [
        ({"if_none_match": ETAG}, 304),
        ({"if_none_match": f"W/{ETAG}"}, 304),  # weak comparison
        ({"if_none_match": '"other", ' + ETAG}, 304),
        ({"if_none_match": "*"}, 304),
        ({"if_none_match": '"other"'}, None),
        ({"if_modified_since": AT}, 304),
        ({"if_modified_since": AFTER}, 304),
        ({"if_modified_since": BEFORE}, None),
        ({"if_modified_since": "not a date"}, None),
        # If-None-Match present: If-Modified-Since is not even looked at.
        ({"if_none_match": '"other"', "if_modified_since": AFTER}, None),
        ({"if_match": ETAG}, None),
        ({"if_match": "*"}, None),
        ({"if_match": f"W/{ETAG}"}, 412),  # strong comparison
        ({"if_match": '"other"'}, 412),
        ({"if_unmodified_since": AT}, None),
        ({"if_unmodified_since": BEFORE}, 412),
        ({"if_unmodified_since": "bogus"}, None),
        # If-Match present: If-Unmodified-Since is not looked at.
        ({"if_match": ETAG, "if_unmodified_since": BEFORE}, None),
        # 412 is decided before 304.
        ({"if_match": '"other"', "if_none_match": ETAG}, 412),
    ],
)
def test_precedence(fields: dict[str, str], outcome: int | None) -> None:
    assert evaluate(**fields) == outcome


def test_unsafe_methods_get_412_where_get_gets_304() -> None:
    assert evaluate("PUT", if_none_match=ETAG) == 412
    assert evaluate("PUT", if_modified_since=AFTER) is None


def test_if_none_match_split_over_two_fields() -> None:
    headers = Headers([("If-None-Match", '"x"'), ("If-None-Match", ETAG)])
    assert evaluate_preconditions(Request("GET", "/", headers=headers), ETAG, MODIFIED) == 304


def test_if_range() -> None:
    assert if_range_allows(request(), ETAG, MODIFIED)
    assert if_range_allows(request(if_range=ETAG), ETAG, MODIFIED)
    assert not if_range_allows(request(if_range='"other"'), ETAG, MODIFIED)
    assert not if_range_allows(request(if_range=f"W/{ETAG}"), ETAG, MODIFIED)
    assert if_range_allows(request(if_range=AT), ETAG, MODIFIED)
    assert not if_range_allows(request(if_range=AFTER), ETAG, MODIFIED)
    assert not if_range_allows(request(if_range="nonsense"), ETAG, MODIFIED)
