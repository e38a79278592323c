"""permessage-deflate: negotiation, context takeover, window bits, inflation limits."""

from __future__ import annotations

import zlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from relays.testing.strategies import splits
from relays_websocket import (
    DeflateParameters,
    InvalidHandshake,
    MessageTooLarge,
    ProtocolError,
    WebSocketClient,
    WebSocketLimits,
    WebSocketProtocol,
    WebSockets,
)
from relays_websocket._deflate import (
    Deflate,
    accept_deflate_offer,
    parse_extensions,
    verify_deflate_answer,
)
from relays_websocket.testing.strategies import encode_frame


def pair(
    parameters: DeflateParameters, level: int = 1, **limits: int
) -> tuple[WebSocketProtocol, WebSocketProtocol]:
    return (
        WebSocketProtocol(
            is_client=True, deflate=Deflate(parameters, is_client=True, level=level)
        ),
        WebSocketProtocol(
            is_client=False,
            deflate=Deflate(parameters, is_client=False, level=level),
            limits=WebSocketLimits(**limits),
        ),
    )


PARAMETERS = st.builds(
    DeflateParameters,
    server_no_context_takeover=st.booleans(),
    client_no_context_takeover=st.booleans(),
    server_max_window_bits=st.integers(8, 15),
    client_max_window_bits=st.integers(8, 15),
)


@settings(deadline=None)
@given(
    PARAMETERS,
    st.lists(st.one_of(st.text(max_size=500), st.binary(max_size=500)), max_size=5),
    st.integers(0, 9),
)
def test_messages_cross_compressed_both_ways(
    parameters: DeflateParameters, messages: list[str | bytes], level: int
) -> None:
    client, server = pair(parameters, level)
    for message in messages:
        assert server.receive_data(client.send(message)) == [message]
        assert client.receive_data(server.send(message)) == [message]


@settings(deadline=None)
@given(st.data())
def test_any_split_of_a_compressed_stream_parses_the_same(data: st.DataObject) -> None:
    client, _ = pair(DeflateParameters())
    messages = ["hello hello hello", b"\x00" * 300, "hello again"]
    wire = b"".join(client.send(message) for message in messages)
    _, server = pair(DeflateParameters())
    events: list[object] = []
    for piece in data.draw(splits(wire)):
        events.extend(server.receive_data(piece))
    assert events == messages


def test_a_compressed_message_may_be_fragmented() -> None:
    compressor = zlib.compressobj(6, zlib.DEFLATED, -15)
    body = compressor.compress(b"fragmented " * 20) + compressor.flush(zlib.Z_SYNC_FLUSH)
    body = body[:-4]
    mask = b"abcd"
    wire = (
        encode_frame(0x2, body[:5], fin=False, rsv=4, mask=mask)
        + encode_frame(0x9, b"", mask=mask)
        + encode_frame(0x0, body[5:], mask=mask)
    )
    _, server = pair(DeflateParameters())
    assert server.receive_data(wire)[-1] == b"fragmented " * 20


def test_a_zip_bomb_stops_at_max_message() -> None:
    client, server = pair(DeflateParameters(), max_message=1000)
    with pytest.raises(MessageTooLarge):
        server.receive_data(client.send(b"\x00" * 100_000))


def test_corrupt_deflate_data_fails_the_connection() -> None:
    _, server = pair(DeflateParameters())
    with pytest.raises(ProtocolError):
        server.receive_data(encode_frame(0x2, b"\xff\xff\xff\xff", rsv=4, mask=b"abcd"))


def test_rsv1_on_a_continuation_frame_is_an_error() -> None:
    _, server = pair(DeflateParameters())
    server.receive_data(encode_frame(0x2, b"", fin=False, mask=b"abcd"))
    with pytest.raises(ProtocolError):
        server.receive_data(encode_frame(0x0, b"", rsv=4, mask=b"abcd"))


def test_context_takeover_makes_a_repeated_message_smaller() -> None:
    client, _ = pair(DeflateParameters())
    first = client.send("the same words again " * 5)
    assert len(client.send("the same words again " * 5)) < len(first)
    fresh, _ = pair(DeflateParameters(client_no_context_takeover=True))
    assert len(fresh.send("the same words again " * 5)) == len(
        fresh.send("the same words again " * 5)
    )


@pytest.mark.parametrize(
    ("offer", "answer"),
    [
        ("permessage-deflate", "permessage-deflate"),
        ("permessage-deflate; client_max_window_bits", "permessage-deflate"),
        (
            "permessage-deflate; client_max_window_bits=10; server_max_window_bits=8",
            "permessage-deflate; server_max_window_bits=8; client_max_window_bits=10",
        ),
        (
            "permessage-deflate; server_no_context_takeover; client_no_context_takeover",
            "permessage-deflate; server_no_context_takeover; client_no_context_takeover",
        ),
        ("permessage-deflate; server_max_window_bits", None),
        ("permessage-deflate; server_max_window_bits=16", None),
        ("permessage-deflate; client_max_window_bits=7", None),
        ("permessage-deflate; unknown", None),
        ("permessage-deflate; server_no_context_takeover; server_no_context_takeover", None),
        ("permessage-deflate; server_no_context_takeover=1", None),
    ],
)
def test_the_server_accepts_valid_offers_only(offer: str, answer: str | None) -> None:
    [(name, parameters)] = parse_extensions([offer])
    assert name == "permessage-deflate"
    agreed = accept_deflate_offer(parameters)
    assert (agreed.header() if agreed else None) == answer


def test_a_client_rejects_a_broken_answer() -> None:
    [(_, parameters)] = parse_extensions(["permessage-deflate; server_max_window_bits=20"])
    with pytest.raises(InvalidHandshake):
        verify_deflate_answer(parameters)


def test_the_compression_level_is_zlibs() -> None:
    message = b"relays " * 2000
    stored = Deflate(DeflateParameters(), is_client=False, level=0).compress(message)
    fastest = Deflate(DeflateParameters(), is_client=False).compress(message)
    assert len(stored) > len(message) > 10 * len(fastest)


@pytest.mark.parametrize("level", [-1, 10, True, 1.5])
def test_a_compression_level_outside_zlibs_is_refused(level: object) -> None:
    with pytest.raises(ValueError, match="compression_level"):
        Deflate(DeflateParameters(), is_client=False, level=level)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="compression_level"):
        WebSockets("/ws", compression_level=level)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="compression_level"):
        WebSocketClient("ws://127.0.0.1:1/", compression_level=level)  # type: ignore[arg-type]
