"""Accept-style fields: parsing preferences, choosing a coding and a media type."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from relays_http import Preference, best_media_type, choose_encoding, parse_preferences
from relays_http._negotiation import MAX_PREFERENCES

TOKEN = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-+.!#$%&'^_`|~", min_size=1)
QUALITY = st.sampled_from(["0", "0.", "0.5", "0.001", "0.999", "1", "1.", "1.0", "1.000"])


def test_a_field_is_read_with_its_weights_and_parameters() -> None:
    field = 'text/html;level="1,2";q=0.7, application/json , */*;q=0'
    assert parse_preferences(field) == [
        Preference("text/html", (("level", "1,2"),), 0.7),
        Preference("application/json", (), 1.0),
        Preference("*/*", (), 0.0),
    ]


@pytest.mark.parametrize(
    "field", ["gzip;q=2", "gzip;q=0.1234", "gzip;q=x", "gzip;q=1.5", "gzip;=1", ";q=1", "a b"]
)
def test_unreadable_elements_are_skipped(field: str) -> None:
    assert parse_preferences(field + ", deflate") == [Preference("deflate")]


def test_a_field_is_read_up_to_the_limit() -> None:
    field = ", ".join(f"coding{index}" for index in range(MAX_PREFERENCES * 10))
    assert len(parse_preferences(field)) == MAX_PREFERENCES


@given(st.text())
def test_any_text_parses(field: str) -> None:
    for preference in parse_preferences(field):
        assert 0.0 <= preference.quality <= 1.0
        assert preference.value == preference.value.strip().lower()


@given(st.lists(st.tuples(TOKEN, st.none() | QUALITY), min_size=1, max_size=20))
def test_a_well_formed_field_parses_to_its_elements(
    elements: list[tuple[str, str | None]],
) -> None:
    field = ", ".join(value if q is None else f"{value};q={q}" for value, q in elements)
    parsed = parse_preferences(field)
    assert [(p.value, p.quality) for p in parsed] == [
        (value.lower(), 1.0 if q is None else float(q.rstrip(".") or 0)) for value, q in elements
    ]


@given(st.text(), st.lists(st.sampled_from(["gzip", "deflate", "br", "zstd"]), unique=True))
def test_a_chosen_coding_is_offered_and_acceptable(field: str, offered: list[str]) -> None:
    chosen = choose_encoding(field, offered)
    if chosen is not None:
        assert chosen in offered
        weights = {p.value: p.quality for p in reversed(parse_preferences(field))}
        weight = weights.get(chosen, weights.get("x-" + chosen, weights.get("*", 0.0)))
        assert weight > 0


@pytest.mark.parametrize(
    ("field", "offered", "chosen"),
    [
        ("gzip, deflate", ["deflate", "gzip"], "deflate"),
        ("gzip;q=0.5, deflate;q=0.6", ["gzip", "deflate"], "deflate"),
        ("gzip;q=0.5, identity", ["gzip"], None),
        ("*;q=0", ["gzip"], None),
        ("*, gzip;q=0", ["gzip", "br"], "br"),
        ("GZIP", ["gzip"], "gzip"),
        ("", ["gzip"], None),
        (None, ["gzip"], None),
    ],
)
def test_choose_encoding(field: str | None, offered: list[str], chosen: str | None) -> None:
    assert choose_encoding(field, offered) == chosen


@pytest.mark.parametrize(
    ("field", "offered", "chosen"),
    [
        (None, ["application/json", "text/html"], "application/json"),
        ("text/html", ["application/json", "text/html"], "text/html"),
        ("text/*;q=0.5, application/json", ["text/html", "application/json"], "application/json"),
        ("*/*;q=0.1, text/html", ["application/json", "text/html"], "text/html"),
        ("text/html;q=0, text/*", ["text/html", "text/plain"], "text/plain"),
        ("image/png", ["text/html"], None),
        (
            "text/html;level=1, text/html;q=0.2",
            ["text/html;level=2", "text/html;level=1"],
            "text/html;level=1",
        ),
        (
            "application/json;q=0.9, text/html;q=0.9",
            ["text/html", "application/json"],
            "text/html",
        ),
    ],
)
def test_best_media_type(field: str | None, offered: list[str], chosen: str | None) -> None:
    assert best_media_type(field, offered) == chosen


@pytest.mark.parametrize("offer", ["text", "text/*", "*/*", "a/b/c", ""])
def test_offers_must_be_media_types(offer: str) -> None:
    with pytest.raises(ValueError, match="media type"):
        best_media_type("*/*", [offer])


@given(st.text(), st.lists(st.sampled_from(["text/html", "application/json", "text/plain"])))
def test_a_chosen_media_type_is_offered(field: str, offered: list[str]) -> None:
    chosen = best_media_type(field, offered)
    assert chosen is None or chosen in offered


def test_request_accepts() -> None:
    from relays_http import Request

    def accepts(field: str | None, *offers: str) -> str | None:
        headers = [] if field is None else [(b"accept", field.encode())]
        return Request("GET", "/", headers=headers).accepts(*offers)

    assert accepts(None, "text/html", "application/json") == "text/html"
    assert accepts("application/json", "text/html", "application/json") == "application/json"
    assert accepts("text/html;q=0.1, */*;q=0.5", "text/html", "text/csv") == "text/csv"
    assert accepts("image/*", "text/html") is None
