"""The sans-IO side of Notify: inotify records decoded, bursts of changes merged."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from relays.testing.strategies import splits
from relays_io import Change, ChangeBatch, InotifyDataError, InotifyDecoder
from relays_io._changes import MAX_NAME_LENGTH, RawChange

names = st.text(
    st.characters(blacklist_categories=("Cs",), blacklist_characters="\0/"), max_size=20
)
records = st.builds(
    RawChange,
    watch=st.integers(1, 2**31 - 1),
    mask=st.integers(0, 2**32 - 1),
    cookie=st.integers(0, 2**32 - 1),
    name=names,
)


def encode(record: RawChange) -> bytes:
    name = record.name.encode()
    padded = name + b"\0" * (-len(name) % 16 or (16 if name else 0))
    return struct.pack("=iIII", record.watch, record.mask, record.cookie, len(padded)) + padded


def decode_all(pieces: list[bytes]) -> tuple[list[RawChange], bool, bytes]:
    decoder = InotifyDecoder()
    found: list[RawChange] = []
    for piece in pieces:
        try:
            found += decoder.feed(piece)
        except InotifyDataError:
            return found, True, b""
    return found, False, decoder.pending


@given(st.lists(records, max_size=5), st.binary(max_size=15), st.data())
def test_any_split_decodes_the_same_records(
    changes: list[RawChange], trailing: bytes, data: st.DataObject
) -> None:
    stream = b"".join(encode(change) for change in changes) + trailing
    pieces = data.draw(splits(stream, max_pieces=12))
    assert decode_all(pieces) == (changes, False, trailing)


@given(st.binary(max_size=120), st.data())
def test_any_bytes_decode_or_raise_the_same_way_for_any_split(
    stream: bytes, data: st.DataObject
) -> None:
    assert decode_all(data.draw(splits(stream, max_pieces=12))) == decode_all([stream])


def test_an_impossible_name_length_is_refused() -> None:
    head = struct.pack("=iIII", 1, 2, 0, MAX_NAME_LENGTH + 1)
    with pytest.raises(InotifyDataError, match="not inotify data"):
        InotifyDecoder().feed(head)


def test_a_batch_gives_each_change_once_in_first_seen_order() -> None:
    batch = ChangeBatch()
    assert batch.add(Change("modified", "/a"))
    assert not batch.add(Change("created", "/b"))
    assert not batch.add(Change("modified", "/a"))
    assert batch.take() == [Change("modified", "/a"), Change("created", "/b")]
    assert len(batch) == 0
