"""The sans-IO core: frames, fragmentation, control frames, UTF-8, close, limits."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from relays.testing.strategies import splits
from relays_websocket import (
    CloseReceived,
    LocalProtocolError,
    MessageTooLarge,
    Ping,
    Pong,
    ProtocolError,
    State,
    WebSocketLimits,
    WebSocketProtocol,
)
from relays_websocket.testing.strategies import encode_frame, streams

MASK = b"\x01\x02\x03\x04"


def server(**limits: int) -> WebSocketProtocol:
    return WebSocketProtocol(is_client=False, limits=WebSocketLimits(**limits))


def client() -> WebSocketProtocol:
    return WebSocketProtocol(is_client=True)


def feed(protocol: WebSocketProtocol, pieces: list[bytes]) -> list[object]:
    events: list[object] = []
    for piece in pieces:
        events.extend(protocol.receive_data(piece))
    return events


@settings(deadline=None)
@given(streams(masked=True).flatmap(lambda item: splits(item[0]).map(lambda p: (p, item[1]))))
def test_any_split_of_a_valid_client_stream_parses_the_same(
    case: tuple[list[bytes], list[str | bytes]],
) -> None:
    pieces, expected = case
    events = feed(server(), pieces)
    assert [event for event in events if not isinstance(event, Ping)] == expected


@settings(deadline=None)
@given(streams(masked=False), st.binary(max_size=1))
def test_a_partial_frame_after_whole_ones_waits_for_the_rest(
    case: tuple[bytes, list[str | bytes]], trailing: bytes
) -> None:
    wire, expected = case
    protocol = client()
    events = protocol.receive_data(wire + trailing)
    assert [event for event in events if not isinstance(event, Ping)] == expected
    assert protocol.state is State.OPEN


@settings(deadline=None)
@given(st.binary(max_size=200))
def test_any_bytes_parse_or_raise_the_protocol_error(data: bytes) -> None:
    for protocol in (server(max_frame=100, max_message=150), client()):
        code = None
        try:
            protocol.receive_data(data)
        except ProtocolError as error:
            code = error.code
        if code is not None:
            assert code in (1002, 1007, 1009)
            assert protocol.state is State.CLOSED
            assert protocol.data_to_send()[:1] == b"\x88"


def test_a_ping_between_fragments_is_answered_at_once() -> None:
    protocol = server()
    events = protocol.receive_data(
        encode_frame(0x1, b"hel", fin=False, mask=MASK)
        + encode_frame(0x9, b"are you there", mask=MASK)
    )
    assert events == [Ping(b"are you there")]
    assert protocol.data_to_send() == b"\x8a\x0dare you there"
    assert protocol.receive_data(encode_frame(0x0, b"lo", mask=MASK)) == ["hello"]


def test_invalid_utf8_fails_on_the_fragment_that_holds_it() -> None:
    protocol = server()
    protocol.receive_data(encode_frame(0x1, b"caf", fin=False, mask=MASK))
    with pytest.raises(ProtocolError) as caught:
        protocol.receive_data(encode_frame(0x0, b"\xff\xfe", fin=False, mask=MASK))
    assert caught.value.code == 1007
    assert protocol.data_to_send()[2:4] == (1007).to_bytes(2, "big")


def test_a_utf8_character_split_across_fragments_is_fine() -> None:
    encoded = "é".encode()
    protocol = server()
    events = protocol.receive_data(
        encode_frame(0x1, encoded[:1], fin=False, mask=MASK)
        + encode_frame(0x0, encoded[1:], mask=MASK)
    )
    assert events == ["é"]


@pytest.mark.parametrize(
    ("wire", "code"),
    [
        (encode_frame(0x3, b"", mask=MASK), 1002),  # reserved opcode
        (encode_frame(0x1, b"x", rsv=2, mask=MASK), 1002),  # RSV2 without an extension
        (encode_frame(0x1, b"x", rsv=4, mask=MASK), 1002),  # RSV1 without deflate
        (encode_frame(0x1, b"x"), 1002),  # a client frame unmasked
        (encode_frame(0x9, b"x", fin=False, mask=MASK), 1002),  # fragmented control frame
        (encode_frame(0x9, b"x" * 126, mask=MASK), 1002),  # long control frame
        (encode_frame(0x0, b"x", mask=MASK), 1002),  # continuation of nothing
        (encode_frame(0x1, b"a", fin=False, mask=MASK) + encode_frame(0x1, b"b", mask=MASK), 1002),
        (encode_frame(0x1, b"\xc3\x28", mask=MASK), 1007),
        (encode_frame(0x8, b"\x03", mask=MASK), 1002),  # one-byte close payload
        (encode_frame(0x8, b"\x03\xed", mask=MASK), 1002),  # close code 1005 on the wire
        (encode_frame(0x8, b"\x03\xe8\xff", mask=MASK), 1007),  # close reason not UTF-8
    ],
)
def test_protocol_errors_close_with_their_code(wire: bytes, code: int) -> None:
    protocol = server()
    with pytest.raises(ProtocolError) as caught:
        protocol.receive_data(wire)
    assert caught.value.code == code
    assert protocol.data_to_send()[2:4] == code.to_bytes(2, "big")
    assert protocol.receive_data(encode_frame(0x1, b"later", mask=MASK)) == []


def test_a_frame_over_max_frame_fails_before_its_payload_arrives() -> None:
    protocol = server(max_frame=1000)
    header = encode_frame(0x2, b"x" * 2000, mask=MASK)[:8]
    with pytest.raises(MessageTooLarge):
        protocol.receive_data(header)
    assert protocol.data_to_send()[2:4] == (1009).to_bytes(2, "big")


def test_a_fragmented_message_over_max_message_fails() -> None:
    protocol = server(max_message=10)
    protocol.receive_data(encode_frame(0x2, b"x" * 6, fin=False, mask=MASK))
    with pytest.raises(MessageTooLarge):
        protocol.receive_data(encode_frame(0x0, b"x" * 6, mask=MASK))


def test_the_close_handshake_started_by_the_peer() -> None:
    protocol = server()
    events = protocol.receive_data(encode_frame(0x8, b"\x03\xe8bye", mask=MASK))
    assert events == [CloseReceived(1000, "bye")]
    assert protocol.data_to_send() == b"\x88\x02\x03\xe8"
    assert protocol.state is State.CLOSED
    with pytest.raises(LocalProtocolError):
        protocol.send("too late")


def test_the_close_handshake_started_by_us() -> None:
    protocol = client()
    frame = protocol.close(4000, "done")
    assert frame[0] == 0x88
    assert protocol.state is State.CLOSING
    assert protocol.close() == b""
    assert protocol.receive_data(b"\x82\x01x") == [b"x"]  # still reading
    assert protocol.receive_data(b"\x88\x02\x0f\xa0") == [CloseReceived(4000, "")]
    assert protocol.data_to_send() == b""  # no second close frame
    assert protocol.state is State.CLOSED


def test_an_empty_close_is_answered_with_1000() -> None:
    protocol = server()
    assert protocol.receive_data(encode_frame(0x8, b"", mask=MASK)) == [CloseReceived(1005, "")]
    assert protocol.data_to_send() == b"\x88\x02\x03\xe8"


def test_pongs_are_reported() -> None:
    assert server().receive_data(encode_frame(0xA, b"beat", mask=MASK)) == [Pong(b"beat")]


@settings(deadline=None)
@given(st.one_of(st.text(max_size=70000), st.binary(max_size=70000)))
def test_what_a_client_sends_a_server_reads(message: str | bytes) -> None:
    assert server().receive_data(client().send(message)) == [message]


def test_close_with_1005_sends_no_code() -> None:
    frame = client().close(1005)
    assert frame[:2] == b"\x88\x80"  # masked, empty payload
    assert len(frame) == 6


@pytest.mark.parametrize("code", [999, 1004, 1006, 1015, 2000, 5000])
def test_unsendable_close_codes_are_refused(code: int) -> None:
    with pytest.raises(LocalProtocolError):
        client().close(code)


def test_control_payloads_are_bounded() -> None:
    with pytest.raises(LocalProtocolError):
        client().ping(b"x" * 126)
    with pytest.raises(LocalProtocolError):
        client().close(1000, "x" * 124)


@settings(deadline=None, max_examples=50)
@given(
    st.binary(min_size=900, max_size=5000),
    st.binary(min_size=4, max_size=4),
    st.data(),
)
def test_large_masked_frames_parse_alike_with_c_and_pure_python_masking(
    payload: bytes, mask: bytes, data: st.DataObject
) -> None:
    """Payloads from 1 KiB on are unmasked through a memoryview of the read, not a slice
    of it: the same messages, whichever masking runs, however the stream is split."""
    import relays_websocket._protocol as core
    from relays_websocket._masking import apply_mask_python, c_apply_mask

    wire = encode_frame(0x2, payload, mask=mask) + encode_frame(0x1, b"after", mask=mask)
    wire += encode_frame(0x2, payload[:100], mask=mask, fin=False)
    wire += encode_frame(0x0, payload[100:], mask=mask)
    pieces = data.draw(splits(wire))
    expected = [payload, "after", payload]
    paths = [apply_mask_python] + ([c_apply_mask] if c_apply_mask is not None else [])
    for path in paths:
        original = core.apply_mask
        core.apply_mask = path
        try:
            assert feed(server(), pieces) == expected
        finally:
            core.apply_mask = original


@pytest.mark.parametrize("opcode", [0x1, 0x2])
def test_a_one_frame_message_over_max_message_is_refused_with_1009(opcode: int) -> None:
    """max_message bounds a message sent as one frame too, not only reassembled ones."""
    protocol = server(max_message=100, max_frame=1000)
    with pytest.raises(MessageTooLarge, match="max_message=100"):
        protocol.receive_data(encode_frame(opcode, b"x" * 101, mask=MASK))
    close = protocol.data_to_send()
    assert close[:1] == b"\x88"
    assert close[2:4] == (1009).to_bytes(2, "big")
    assert server(max_message=100, max_frame=1000).receive_data(
        encode_frame(opcode, b"x" * 100, mask=MASK)
    ) == ["x" * 100 if opcode == 0x1 else b"x" * 100]


@pytest.mark.parametrize("length", [0, 1, 125, 126, 65535, 65536])
def test_a_server_frames_every_length_as_the_rfc_says(length: int) -> None:
    """Short frames take a constant header; every length parses back at a client."""
    for message in (b"b" * length, "t" * length):
        frame = server().send(message)
        assert client().receive_data(frame) == [message]
