"""The opening handshake: the RFC's example key, checks on both sides."""

from __future__ import annotations

import pytest

from relays_websocket import ClientHandshake, InvalidHandshake, accept_key, answer_request
from relays_websocket._handshake import HeaderLookup, parse_response_head


def lookup(fields: dict[str, str]) -> HeaderLookup:
    return lambda name: [fields[name]] if name in fields else []


GOOD = {
    "upgrade": "websocket",
    "connection": "keep-alive, Upgrade",
    "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ==",
    "sec-websocket-version": "13",
}


def test_the_rfc_example_key() -> None:
    assert accept_key("dGhlIHNhbXBsZSBub25jZQ==") == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="


def test_a_good_request_is_answered() -> None:
    answer = answer_request(
        "GET",
        lookup(GOOD | {"sec-websocket-protocol": "chat, superchat"}),
        subprotocols=["superchat", "chat"],
    )
    fields = {name.lower(): value for name, value in answer.headers}
    assert fields["sec-websocket-accept"] == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
    assert fields["sec-websocket-protocol"] == "superchat"
    # Written in lower case, as relays-http writes its own header names (and h11 does).
    assert all(name == name.lower() for name, _ in answer.headers)
    assert answer.subprotocol == "superchat"
    assert answer.deflate is None


@pytest.mark.parametrize(
    ("change", "status"),
    [
        ({"upgrade": "h2c"}, 426),
        ({"connection": "keep-alive"}, 400),
        ({"sec-websocket-version": "8"}, 426),
        ({"sec-websocket-key": "short"}, 400),
        ({"sec-websocket-key": "!!!!"}, 400),
    ],
)
def test_bad_requests_are_refused_with_a_status(change: dict[str, str], status: int) -> None:
    with pytest.raises(InvalidHandshake) as caught:
        answer_request("GET", lookup(GOOD | change))
    assert caught.value.status == status


def test_only_get_may_upgrade() -> None:
    with pytest.raises(InvalidHandshake):
        answer_request("POST", lookup(GOOD))


def test_a_client_checks_the_answer_against_its_key() -> None:
    handshake = ClientHandshake("example.com", "/chat", subprotocols=["chat"])
    request = handshake.request().decode()
    assert request.startswith("GET /chat HTTP/1.1\r\nHost: example.com\r\n")
    head = (
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        f"Sec-WebSocket-Accept: {accept_key(handshake.key)}\r\nSec-WebSocket-Protocol: chat\r\n"
        "Sec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover\r\n"
    )
    status, header = parse_response_head(head.encode())
    subprotocol, deflate = handshake.verify(status, header)
    assert subprotocol == "chat"
    assert deflate is not None
    assert deflate.server_no_context_takeover


def test_a_client_refuses_a_wrong_accept_key() -> None:
    handshake = ClientHandshake("example.com", "/")
    status, header = parse_response_head(
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: upgrade\r\n"
        b"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"
    )
    with pytest.raises(InvalidHandshake):
        handshake.verify(status, header)


def test_a_client_refuses_a_plain_answer() -> None:
    status, header = parse_response_head(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n")
    with pytest.raises(InvalidHandshake, match="404"):
        ClientHandshake("example.com", "/").verify(status, header)
