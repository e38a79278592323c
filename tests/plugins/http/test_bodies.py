"""relays_http.SpooledBody and chunk_bytes: the body rules the WSGI and ASGI bridges share."""

from __future__ import annotations

import itertools
from typing import IO

import pytest
from hypothesis import given
from hypothesis import strategies as st

from relays_http import Limits, PayloadTooLarge, SpooledBody, chunk_bytes

LIMITS = Limits(spool_threshold=64, max_body_size=256)


def _received(pieces: list[bytes], limits: Limits = LIMITS) -> bytes | IO[bytes]:
    body = SpooledBody(limits)
    for piece in pieces:
        body.add(piece)
    return body.result()


def _content(result: bytes | IO[bytes]) -> bytes:
    if isinstance(result, bytes):
        return result
    with result:
        return result.read()


@given(st.binary(max_size=256), st.lists(st.integers(min_value=0, max_value=256)))
def test_any_split_of_a_body_is_the_same_body(data: bytes, cuts: list[int]) -> None:
    points = sorted({0, len(data), *(cut for cut in cuts if cut <= len(data))})
    pieces = [data[start:end] for start, end in itertools.pairwise(points)]
    result = _received([b"", *pieces, b""])
    assert _content(result) == data
    # In memory up to the threshold, in a temporary file past it.
    assert isinstance(result, bytes) == (len(data) <= LIMITS.spool_threshold)


@given(st.lists(st.binary(min_size=1, max_size=100), min_size=1))
def test_a_body_past_the_limit_is_a_413_and_leaves_no_file_open(pieces: list[bytes]) -> None:
    body = SpooledBody(LIMITS)
    total = 0
    for piece in pieces:
        total += len(piece)
        if total > LIMITS.max_body_size:
            with pytest.raises(PayloadTooLarge, match="larger than 256 bytes"):
                body.add(piece)
            assert body.result() == b""  # discarded: nothing kept, no file
            return
        body.add(piece)
    assert body.size == total
    _content(body.result())


def test_discard_closes_the_spool() -> None:
    body = SpooledBody(LIMITS)
    body.add(b"x" * 100)
    spool = body.result()
    assert not isinstance(spool, bytes)
    body.discard()
    assert spool.closed
    assert body.result() == b""


@pytest.mark.parametrize(
    ("chunk", "expected"),
    [
        (b"ab", b"ab"),
        ("é", "é".encode()),
        (bytearray(b"ab"), b"ab"),
        (memoryview(b"ab"), b"ab"),
    ],
)
def test_chunk_bytes_takes_bytes_and_text(chunk: object, expected: bytes) -> None:
    assert chunk_bytes(chunk) == expected


def test_chunk_bytes_names_what_it_cannot_send() -> None:
    with pytest.raises(TypeError, match="yielded int; yield bytes or str"):
        chunk_bytes(3)


def test_chunk_bytes_takes_a_subclass_of_bytes_as_plain_bytes() -> None:
    class Tagged(bytes):
        pass

    assert type(chunk_bytes(Tagged(b"ab"))) is bytes
