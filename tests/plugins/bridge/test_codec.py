"""The wire format: what goes in comes out the same, and any bytes either decode to a
message or raise BridgeProtocolError."""

from __future__ import annotations

import contextlib
import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from relays_bridge import (
    BridgeProtocolError,
    Codec,
    EventMessage,
    EventNotSerialisable,
    ReplyMessage,
)

FORMATS = ["json", "msgpack"]

_plain = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(1 << 63), max_value=(1 << 63) - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)

events = st.builds(
    EventMessage,
    id=st.text(min_size=1, max_size=12),
    origin=st.text(max_size=32),
    name=st.text(min_size=1, max_size=20),
    version=st.integers(min_value=1, max_value=1000),
    channel=st.text(min_size=1, max_size=20),
    args=st.lists(_plain, max_size=4),
    kwargs=st.dictionaries(st.text(max_size=8), _plain, max_size=4),
    reply_to=st.none() | st.text(max_size=32),
)


@pytest.mark.parametrize("format", FORMATS)
@given(message=events)
def test_an_event_comes_back_as_it_was_sent(format: Any, message: EventMessage) -> None:
    codec = Codec(format)
    assert codec.decode(codec.encode_event(message)) == message


@pytest.mark.parametrize("format", FORMATS)
@given(identifier=st.text(min_size=1, max_size=8), result=_plain)
def test_a_result_comes_back_as_it_was_sent(format: Any, identifier: str, result: Any) -> None:
    codec = Codec(format)
    assert codec.decode(codec.encode_reply(ReplyMessage(identifier, True, result))) == (
        ReplyMessage(identifier, True, result)
    )


@given(frame=st.binary(max_size=200))
def test_any_bytes_decode_or_raise_the_protocol_error(frame: bytes) -> None:
    with contextlib.suppress(BridgeProtocolError):
        Codec("json").decode(frame)


@pytest.mark.parametrize("format", FORMATS)
@given(message=events, cut=st.integers(min_value=0), trailing=st.binary(min_size=1, max_size=8))
def test_a_cut_or_padded_frame_is_refused_whole(
    format: Any, message: EventMessage, cut: int, trailing: bytes
) -> None:
    """Brokers deliver whole frames: a part of one, or one with bytes after it, is not
    a message (never the start of the next)."""
    codec = Codec(format)
    frame = codec.encode_event(message)
    with pytest.raises(BridgeProtocolError):
        codec.decode(frame[: cut % len(frame)])
    try:
        decoded = codec.decode(frame + trailing)
    except BridgeProtocolError:
        return
    assert decoded == message  # only JSON's trailing whitespace may be taken as padding
    assert format == "json"
    assert trailing.isspace()


def test_a_frame_of_either_format_is_read_by_both() -> None:
    message = EventMessage("1", "node", "order_placed", 1, "orders", [1, "tea"], {"x": 2.5})
    for writer in FORMATS:
        frame = Codec(writer).encode_event(message)  # type: ignore[arg-type]
        for reader in FORMATS:
            assert Codec(reader).decode(frame) == message  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("args", "kwargs", "argument"),
    [
        ([object()], {}, "args[0]"),
        ([1, [2, {"at": {1, 2}}]], {}, "args[1][1]['at']"),
        ([], {"when": (1, 2)}, "kwargs['when']"),
        ([{1: "one"}], {}, "args[0]"),
        ([float("nan")], {}, "args[0]"),
    ],
)
def test_an_argument_that_cannot_travel_is_named(
    args: list[Any], kwargs: dict[str, Any], argument: str
) -> None:
    message = EventMessage("1", "node", "order_placed", 1, "orders", args, kwargs)
    with pytest.raises(EventNotSerialisable) as raised:
        Codec("json").encode_event(message)
    assert raised.value.argument == argument
    assert "order_placed" in str(raised.value)


def test_bytes_travel_with_msgpack_only() -> None:
    message = EventMessage("1", "node", "blob", 1, "files", [b"\x00\x01"], {})
    assert Codec("msgpack").decode(Codec("msgpack").encode_event(message)) == message
    with pytest.raises(EventNotSerialisable, match="args\\[0\\] is bytes"):
        Codec("json").encode_event(message)


def test_a_frame_over_the_size_limit_is_refused_both_ways() -> None:
    codec = Codec("json", max_message_size=64)
    big = EventMessage("1", "node", "big", 1, "orders", ["x" * 100], {})
    with pytest.raises(EventNotSerialisable, match="max_message_size=64"):
        codec.encode_event(big)
    with pytest.raises(BridgeProtocolError, match="max_message_size=64"):
        codec.decode(Codec("json").encode_event(big))


def test_a_result_that_cannot_travel_becomes_an_error_reply() -> None:
    codec = Codec("json")
    reply = codec.decode(codec.encode_reply(ReplyMessage("7", True, {"at": object()})))
    assert isinstance(reply, ReplyMessage)
    assert not reply.ok
    assert reply.error_type == "EventNotSerialisable"


@pytest.mark.parametrize(
    "data",
    [
        [],
        {"r": 2, "k": "e"},
        {"r": 1, "k": "x"},
        {"r": 1, "k": "e", "i": "1", "o": "n", "n": "e", "v": "1", "c": "c", "a": [], "w": {}},
        {"r": 1, "k": "e", "i": "1", "o": "n", "n": "e", "v": 1, "c": "c", "a": {}, "w": {}},
        {"r": 1, "k": "r", "i": "1", "ok": False, "et": 1, "em": "", "tb": ""},
        {"r": 1, "k": "r", "i": 1, "ok": True},
    ],
)
def test_a_message_of_the_wrong_shape_is_refused(data: Any) -> None:
    with pytest.raises(BridgeProtocolError):
        Codec("json").decode(json.dumps(data).encode())


def test_msgpack_extension_types_are_refused() -> None:
    import msgpack

    frame = msgpack.packb({"r": 1, "k": "e", "x": msgpack.ExtType(5, b"code")})
    with pytest.raises(BridgeProtocolError, match="extension"):
        Codec("msgpack").decode(frame)
