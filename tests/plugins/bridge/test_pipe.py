"""The process link's pipe frames: any split of valid bytes reads the same, a partial
frame waits for the rest, and any bytes read as frames or raise BridgeProtocolError."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from relays_bridge import BridgeProtocolError
from relays_bridge._pipe import KINDS, PipeDecoder, PipeFrame, encode_pipe_frame

frames = st.builds(
    PipeFrame,
    kind=st.sampled_from(sorted(KINDS.values())),
    channel=st.text(alphabet="abcdefghijklmnopqrstuvwxyz_-0123456789", max_size=40),
    payload=st.binary(max_size=300),
)


def _wire(items: list[PipeFrame]) -> bytes:
    return b"".join(encode_pipe_frame(f.kind, f.channel, f.payload) for f in items)


@given(st.lists(frames, max_size=6), st.data())
def test_any_split_of_valid_bytes_reads_the_same_frames(
    items: list[PipeFrame], data: st.DataObject
) -> None:
    wire = _wire(items)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(wire)), max_size=8)))
    decoder = PipeDecoder(max_payload=1024)
    read: list[PipeFrame] = []
    for start, end in zip([0, *cuts], [*cuts, len(wire)], strict=True):
        read += decoder.feed(wire[start:end])
    assert read == items
    assert decoder.pending == 0


@given(st.lists(frames, min_size=1, max_size=4), st.data())
def test_a_partial_frame_waits_and_is_kept(items: list[PipeFrame], data: st.DataObject) -> None:
    wire = _wire(items)
    last = len(encode_pipe_frame(items[-1].kind, items[-1].channel, items[-1].payload))
    cut = data.draw(st.integers(len(wire) - last, len(wire) - 1))
    decoder = PipeDecoder(max_payload=1024)
    assert decoder.feed(wire[:cut]) == items[:-1]
    assert decoder.pending == cut - (len(wire) - last)  # the rest is kept, untouched
    assert decoder.feed(wire[cut:]) == items[-1:]


@given(st.binary(max_size=400))
def test_any_bytes_read_as_frames_or_raise_the_protocol_error(garbage: bytes) -> None:
    decoder = PipeDecoder(max_payload=64)
    with contextlib.suppress(BridgeProtocolError):
        for frame in decoder.feed(garbage):
            assert frame.kind in KINDS.values()


def test_a_frame_over_the_limit_is_refused_from_its_length_alone() -> None:
    decoder = PipeDecoder(max_payload=10)
    header = encode_pipe_frame("broadcast", "orders", b"x" * 1000)[:4]
    with pytest.raises(BridgeProtocolError, match="over the limit"):
        decoder.feed(header)
