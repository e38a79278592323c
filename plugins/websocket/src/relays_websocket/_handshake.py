"""The opening handshake (RFC 6455 section 4), both sides, as pure functions.

A server checks the request's ``Upgrade``, ``Connection``, ``Sec-WebSocket-Key`` and
``Sec-WebSocket-Version``, then answers 101 with ``Sec-WebSocket-Accept`` (the key
hashed with the RFC's GUID), the subprotocol it picked and the extensions it
accepted. A client sends a fresh random key and checks that the answer proves the
server read it. Nothing here does I/O: the HTTP layers on either side call these.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
from collections.abc import Callable, Iterable, Sequence

import attrs

from ._deflate import (
    EXTENSION,
    DeflateParameters,
    accept_deflate_offer,
    client_deflate_offer,
    parse_extensions,
    verify_deflate_answer,
)
from ._errors import InvalidHandshake

__all__ = [
    "ClientHandshake",
    "HeaderLookup",
    "ServerAnswer",
    "accept_key",
    "answer_request",
    "new_client_key",
    "parse_response_head",
]

#: Every value of one header field, asked for by its lower-case name.
HeaderLookup = Callable[[str], list[str]]

_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


def accept_key(key: str) -> str:
    """``Sec-WebSocket-Accept`` for a client's ``Sec-WebSocket-Key``."""
    digest = hashlib.sha1(key.encode("ascii") + _GUID).digest()
    return base64.b64encode(digest).decode("ascii")


def new_client_key() -> str:
    """A fresh ``Sec-WebSocket-Key``: 16 random bytes, base64."""
    return base64.b64encode(os.urandom(16)).decode("ascii")


def _tokens(values: Iterable[str]) -> set[str]:
    return {token.strip().lower() for value in values for token in value.split(",")}


@attrs.frozen
class ServerAnswer:
    """What a server answers an acceptable handshake with."""

    #: The header fields of the 101 answer beside ``Upgrade`` and ``Connection``.
    headers: list[tuple[str, str]]
    #: The subprotocol picked, or ``None``.
    subprotocol: str | None
    #: The permessage-deflate parameters agreed on, or ``None``.
    deflate: DeflateParameters | None


def answer_request(
    method: str,
    header: HeaderLookup,
    *,
    subprotocols: Sequence[str] = (),
    compression: bool = True,
    no_context_takeover: bool = False,
) -> ServerAnswer:
    """Check a WebSocket opening request; return the answer or raise :class:`InvalidHandshake`.

    *header* returns every value of a field name (lower case). *subprotocols* are
    those the server speaks, best first: the first the client also offered is picked.
    """
    if method != "GET":
        raise InvalidHandshake("a WebSocket handshake must be a GET request", 405)
    if "websocket" not in _tokens(header("upgrade")):
        raise InvalidHandshake("missing 'Upgrade: websocket': this is a WebSocket endpoint", 426)
    if "upgrade" not in _tokens(header("connection")):
        raise InvalidHandshake("missing 'Connection: Upgrade' in the WebSocket handshake")
    versions = header("sec-websocket-version")
    if [version.strip() for version in versions] != ["13"]:
        raise InvalidHandshake("only Sec-WebSocket-Version 13 is spoken", 426)
    keys = header("sec-websocket-key")
    if len(keys) != 1:
        raise InvalidHandshake("the handshake needs exactly one Sec-WebSocket-Key")
    key = keys[0].strip()
    try:
        if len(base64.b64decode(key, validate=True)) != 16:
            raise ValueError
    except (binascii.Error, ValueError):
        raise InvalidHandshake("Sec-WebSocket-Key must be 16 bytes in base64") from None
    headers = [("sec-websocket-accept", accept_key(key))]
    subprotocol = None
    offered = [
        token.strip() for value in header("sec-websocket-protocol") for token in value.split(",")
    ]
    for candidate in subprotocols:
        if candidate in offered:
            subprotocol = candidate
            headers.append(("sec-websocket-protocol", candidate))
            break
    deflate = None
    if compression:
        for name, parameters in parse_extensions(header("sec-websocket-extensions")):
            if name == EXTENSION:
                deflate = accept_deflate_offer(parameters, no_context_takeover=no_context_takeover)
                if deflate is not None:
                    headers.append(("sec-websocket-extensions", deflate.header()))
                    break
    return ServerAnswer(headers, subprotocol, deflate)


@attrs.define
class ClientHandshake:
    """A client's half of the handshake: the request to send and the check of the answer."""

    host: str
    path: str
    subprotocols: Sequence[str] = ()
    compression: bool = True
    extra_headers: Sequence[tuple[str, str]] = ()
    key: str = attrs.field(factory=new_client_key)

    def request(self) -> bytes:
        """The HTTP/1.1 GET request that asks for the upgrade."""
        lines = [
            f"GET {self.path} HTTP/1.1",
            f"Host: {self.host}",
            "Upgrade: websocket",
            "Connection: Upgrade",
            f"Sec-WebSocket-Key: {self.key}",
            "Sec-WebSocket-Version: 13",
        ]
        if self.subprotocols:
            lines.append("Sec-WebSocket-Protocol: " + ", ".join(self.subprotocols))
        if self.compression:
            lines.append("Sec-WebSocket-Extensions: " + client_deflate_offer())
        lines.extend(f"{name}: {value}" for name, value in self.extra_headers)
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")

    def verify(
        self, status: int, header: HeaderLookup
    ) -> tuple[str | None, DeflateParameters | None]:
        """Check the server's answer; return ``(subprotocol, deflate)`` or raise."""
        if status != 101:
            raise InvalidHandshake(f"the server answered {status}, not 101: no WebSocket here")
        if "websocket" not in _tokens(header("upgrade")):
            raise InvalidHandshake("the server's 101 lacks 'Upgrade: websocket'")
        if "upgrade" not in _tokens(header("connection")):
            raise InvalidHandshake("the server's 101 lacks 'Connection: Upgrade'")
        if [value.strip() for value in header("sec-websocket-accept")] != [accept_key(self.key)]:
            raise InvalidHandshake("Sec-WebSocket-Accept does not match the key we sent")
        protocols = header("sec-websocket-protocol")
        subprotocol = protocols[0].strip() if protocols else None
        if subprotocol is not None and subprotocol not in self.subprotocols:
            raise InvalidHandshake(f"the server picked subprotocol {subprotocol!r}, not offered")
        deflate = None
        for name, parameters in parse_extensions(header("sec-websocket-extensions")):
            if name != EXTENSION or not self.compression or deflate is not None:
                raise InvalidHandshake(f"the server accepted extension {name!r}, not offered")
            deflate = verify_deflate_answer(parameters)
        return subprotocol, deflate


def parse_response_head(head: bytes) -> tuple[int, HeaderLookup]:
    """The status and a header lookup of an HTTP/1.1 response head (up to the blank line)."""
    try:
        text = head.decode("latin-1")
        status_line, *field_lines = text.split("\r\n")
        version, status, *_ = status_line.split(" ", 2)
        if not version.startswith("HTTP/1."):
            raise ValueError(status_line)
        code = int(status)
    except ValueError:
        raise InvalidHandshake("the server's answer is not HTTP/1.1") from None
    fields: dict[str, list[str]] = {}
    for line in field_lines:
        if not line:
            continue
        name, colon, value = line.partition(":")
        if not colon:
            raise InvalidHandshake(f"a malformed header line in the server's answer: {line!r}")
        fields.setdefault(name.strip().lower(), []).append(value.strip())
    return code, lambda name: fields.get(name, [])
