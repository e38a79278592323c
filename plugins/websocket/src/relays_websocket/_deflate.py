"""permessage-deflate (RFC 7692): negotiation and the per-connection codec.

Theory of operation. The client offers ``permessage-deflate`` with parameters in
``Sec-WebSocket-Extensions``; the server accepts the first offer it understands and
answers with the parameters both sides then obey. ``*_no_context_takeover`` means
that side starts every message with an empty dictionary (a fresh zlib object);
``*_max_window_bits`` bounds the LZ77 window that side compresses with. A message
is compressed as a whole, the trailing ``00 00 ff ff`` of a sync flush is cut off,
and the first frame carries RSV1. Reading appends the four bytes back.

What we send is compressed at ``compression_level`` 1 (zlib's fastest) unless the
app asks for more: echoing the Autobahn suite's data, level 1 took 0.2 to 0.7 of level
6's CPU per message of 4 to 128 KiB, for output a few points larger (see
docs/explanation/websocket.rst). aiohttp makes the same choice.

zlib refuses a raw deflate window of 8 bits, but a 9-bit window never reaches back
more than 250 bytes (zlib keeps 262 bytes of lookahead), so compressing with 9
obeys a peer that asked for 8. Decompression always uses the full window: it can
read anything a smaller window wrote.
"""

from __future__ import annotations

import zlib

import attrs

from ._errors import InvalidHandshake, MessageTooLarge, ProtocolError

__all__ = [
    "DEFAULT_COMPRESSION_LEVEL",
    "Deflate",
    "DeflateParameters",
    "accept_deflate_offer",
    "check_compression_level",
    "client_deflate_offer",
    "parse_extensions",
    "verify_deflate_answer",
]

EXTENSION = "permessage-deflate"
#: zlib's level for what we send: 1, the fastest (see the module docstring); 0-9 allowed.
DEFAULT_COMPRESSION_LEVEL = 1
_TAIL = b"\x00\x00\xff\xff"
_WINDOW_PARAMETERS = ("server_max_window_bits", "client_max_window_bits")
_FLAG_PARAMETERS = ("server_no_context_takeover", "client_no_context_takeover")


@attrs.frozen
class DeflateParameters:
    """What both ends agreed on, from the server's point of view of "server"/"client"."""

    server_no_context_takeover: bool = False
    client_no_context_takeover: bool = False
    server_max_window_bits: int = 15
    client_max_window_bits: int = 15

    def header(self) -> str:
        """The ``Sec-WebSocket-Extensions`` value that states these parameters."""
        parts = [EXTENSION]
        if self.server_no_context_takeover:
            parts.append("server_no_context_takeover")
        if self.client_no_context_takeover:
            parts.append("client_no_context_takeover")
        if self.server_max_window_bits != 15:
            parts.append(f"server_max_window_bits={self.server_max_window_bits}")
        if self.client_max_window_bits != 15:
            parts.append(f"client_max_window_bits={self.client_max_window_bits}")
        return "; ".join(parts)


def parse_extensions(values: list[str]) -> list[tuple[str, list[tuple[str, str | None]]]]:
    """``Sec-WebSocket-Extensions`` field values as ``[(name, [(param, value)])]``."""
    offers: list[tuple[str, list[tuple[str, str | None]]]] = []
    for value in values:
        for item in value.split(","):
            name, *raw_parameters = (part.strip() for part in item.split(";"))
            if not name:
                continue
            parameters: list[tuple[str, str | None]] = []
            for raw in raw_parameters:
                key, equals, argument = raw.partition("=")
                argument = argument.strip().strip('"')
                parameters.append((key.strip().lower(), argument if equals else None))
            offers.append((name.lower(), parameters))
    return offers


def _window_bits(value: str | None, name: str) -> int:
    if value is None or not value.isdigit() or not 8 <= int(value) <= 15:
        raise ValueError(f"{name} must be a number from 8 to 15, not {value!r}")
    return int(value)


def accept_deflate_offer(
    parameters: list[tuple[str, str | None]],
    *,
    no_context_takeover: bool = False,
) -> DeflateParameters | None:
    """The server's answer to one offer, or ``None`` to decline it (invalid or unknown).

    *no_context_takeover* makes the server compress each message alone (less memory
    per connection, worse ratio).
    """
    seen: set[str] = set()
    agreed: dict[str, object] = {"server_no_context_takeover": no_context_takeover}
    try:
        for key, value in parameters:
            if key in seen:
                return None
            seen.add(key)
            if key in _FLAG_PARAMETERS:
                if value is not None:
                    return None
                agreed[key] = True
            elif key == "server_max_window_bits":
                agreed[key] = _window_bits(value, key)
            elif key == "client_max_window_bits":
                agreed[key] = 15 if value is None else _window_bits(value, key)
            else:
                return None
    except ValueError:
        return None
    return DeflateParameters(**agreed)  # type: ignore[arg-type]


def client_deflate_offer() -> str:
    """The offer a client sends: deflate, and we can read any window the server picks."""
    return f"{EXTENSION}; client_max_window_bits"


def verify_deflate_answer(parameters: list[tuple[str, str | None]]) -> DeflateParameters:
    """Check the server's answer to :func:`client_deflate_offer`; raise if it is invalid."""
    seen: set[str] = set()
    agreed: dict[str, object] = {}
    for key, value in parameters:
        if key in seen:
            raise InvalidHandshake(f"the server repeated {key} in {EXTENSION}")
        seen.add(key)
        try:
            if key in _FLAG_PARAMETERS and value is None:
                agreed[key] = True
            elif key in _WINDOW_PARAMETERS:
                agreed[key] = _window_bits(value, key)
            else:
                raise ValueError(f"unknown parameter {key}")
        except ValueError as error:
            raise InvalidHandshake(f"the server answered {EXTENSION} wrongly: {error}") from None
    return DeflateParameters(**agreed)  # type: ignore[arg-type]


def check_compression_level(level: int) -> None:
    """Raise :class:`ValueError` unless *level* is one of zlib's, 0 (none) to 9 (smallest)."""
    if isinstance(level, bool) or not isinstance(level, int) or not 0 <= level <= 9:
        raise ValueError(f"compression_level is zlib's, 0 to 9 (1 is fastest), not {level!r}")


class Deflate:
    """The compressor and decompressor of one connection; owned by its protocol."""

    def __init__(
        self,
        parameters: DeflateParameters,
        *,
        is_client: bool,
        level: int = DEFAULT_COMPRESSION_LEVEL,
    ) -> None:
        check_compression_level(level)
        self.parameters = parameters
        self._level = level
        if is_client:
            self._send_bits = parameters.client_max_window_bits
            self._send_fresh = parameters.client_no_context_takeover
            self._receive_fresh = parameters.server_no_context_takeover
        else:
            self._send_bits = parameters.server_max_window_bits
            self._send_fresh = parameters.server_no_context_takeover
            self._receive_fresh = parameters.client_no_context_takeover
        self._send_bits = max(self._send_bits, 9)  # see the module docstring
        self._compressor = self._new_compressor()
        self._decompressor = zlib.decompressobj(-15)

    def _new_compressor(self) -> zlib._Compress:
        return zlib.compressobj(self._level, zlib.DEFLATED, -self._send_bits)

    def compress(self, payload: bytes) -> bytes:
        """One whole message, compressed, without the sync flush's tail."""
        if self._send_fresh:
            self._compressor = self._new_compressor()
        data = self._compressor.compress(payload) + self._compressor.flush(zlib.Z_SYNC_FLUSH)
        return data[:-4] if data.endswith(_TAIL) else data

    def start_message(self) -> None:
        """A compressed message begins: without context takeover, with an empty window."""
        if self._receive_fresh:
            self._decompressor = zlib.decompressobj(-15)

    def decompress(self, fragment: bytes, room: int, final: bool) -> bytes:
        """Decompress one frame's payload; at most *room* bytes, else 1009."""
        if final:
            fragment += _TAIL
        try:
            data = self._decompressor.decompress(fragment, room + 1)
        except zlib.error as error:
            raise ProtocolError(f"a compressed message is corrupt: {error}", 1007) from None
        if len(data) > room or self._decompressor.unconsumed_tail:
            raise MessageTooLarge("a compressed message inflates past max_message")
        return data
