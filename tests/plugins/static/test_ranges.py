"""Range parsing and multipart/byteranges layout."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from relays_static._ranges import Unsatisfiable, multipart_layout, parse_range


@pytest.mark.parametrize(
    ("value", "ranges"),
    [
        ("bytes=0-99", [(0, 99)]),
        ("bytes=0-", [(0, 999)]),
        ("bytes=-100", [(900, 999)]),
        ("bytes=-5000", [(0, 999)]),
        ("bytes=990-5000", [(990, 999)]),
        ("bytes=0-9, 20-29", [(0, 9), (20, 29)]),
        ("bytes=20-29,0-9", [(0, 9), (20, 29)]),
        ("bytes=0-9,5-19,20-29", [(0, 29)]),  # overlapping and adjacent are merged
        ("BYTES = 1-1", [(1, 1)]),
        ("bytes=0-9,2000-3000", [(0, 9)]),  # the unsatisfiable one is dropped
        ("bytes=0-1,,", [(0, 1)]),  # empty list elements are allowed (RFC 9110 5.6.1)
    ],
)
def test_valid_ranges(value: str, ranges: list[tuple[int, int]]) -> None:
    assert parse_range(value, 1000, max_ranges=8) == ranges


@pytest.mark.parametrize(
    "value",
    [
        "items=0-1",
        "bytes",
        "bytes=",
        "bytes=a-b",
        "bytes=5-2",
        "bytes=1",
        "bytes=--1",
        "bytes=0x1-2",
        "bytes=1-2-3",
        "bytes=+1-2",
        "bytes=\u0661-\u0662",  # Arabic-Indic digits are not DIGIT
    ],
)
def test_invalid_ranges_are_ignored(value: str) -> None:
    assert parse_range(value, 1000, max_ranges=8) is None


@pytest.mark.parametrize(
    "value", ["bytes=1000-", "bytes=2000-3000", "bytes=-0", "bytes=1000-1001,5000-"]
)
def test_unsatisfiable(value: str) -> None:
    with pytest.raises(Unsatisfiable):
        parse_range(value, 1000, max_ranges=8)


def test_an_empty_file_satisfies_no_range() -> None:
    with pytest.raises(Unsatisfiable):
        parse_range("bytes=0-", 0, max_ranges=8)


def test_too_many_ranges_are_ignored() -> None:
    value = "bytes=" + ",".join(f"{i * 10}-{i * 10 + 1}" for i in range(9))
    assert parse_range(value, 1000, max_ranges=8) is None
    assert parse_range(value, 1000, max_ranges=9) is not None


@given(value=st.text(max_size=40), size=st.integers(0, 10_000))
def test_any_field_gives_ranges_inside_the_file_or_none(value: str, size: int) -> None:
    try:
        ranges = parse_range(value, size, max_ranges=16)
    except Unsatisfiable:
        return
    if ranges is None:
        return
    assert sum(last - first + 1 for first, last in ranges) <= size
    for (first, last), following in zip(ranges, [*ranges[1:], None], strict=True):
        assert 0 <= first <= last < size
        if following is not None:
            assert following[0] > last + 1


@given(
    st.lists(st.tuples(st.integers(0, 500), st.integers(0, 500)), min_size=1, max_size=20).map(
        lambda pairs: "bytes=" + ",".join(f"{min(a, b)}-{max(a, b)}" for a, b in pairs)
    )
)
def test_generated_range_sets(value: str) -> None:
    try:
        ranges = parse_range(value, 300, max_ranges=32)
    except Unsatisfiable:
        return
    assert ranges is not None
    assert sum(last - first + 1 for first, last in ranges) <= 300


def test_multipart_length_is_exact() -> None:
    ranges = [(0, 9), (20, 29)]
    boundary, heads, closing, total = multipart_layout(ranges, 100, "text/plain")
    body = heads[0] + b"x" * 10 + heads[1] + b"y" * 10 + closing
    assert len(body) == total
    assert b"Content-Range: bytes 20-29/100" in heads[1]
    assert closing == f"\r\n--{boundary}--\r\n".encode()
