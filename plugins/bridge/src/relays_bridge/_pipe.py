"""Frames on the pipe between a parent process and the child a process link runs.

A broker delivers whole messages and says by subject or stream what each is; a pipe is
a byte stream, so each frame says both itself::

    length (4 bytes, big-endian: what follows)
    kind   (1 byte: b"B" broadcast, b"Q" request, b"R" reply, b"!" ready)
    size of the channel name (1 byte), the channel name (ASCII)
    payload (a frame of :class:`~relays_bridge.Codec`, empty for "ready")

This module is sans-IO: :func:`encode_pipe_frame` makes bytes, :class:`PipeDecoder`
takes bytes in any pieces and gives whole frames back. Nothing here unpickles or
evaluates anything; a payload is decoded by the codec afterwards like one from a broker.
"""

from __future__ import annotations

import struct

import attrs

from ._errors import BridgeProtocolError

__all__ = ["KINDS", "PipeDecoder", "PipeFrame", "encode_pipe_frame"]

#: What a frame is, by its kind byte.
KINDS = {b"B": "broadcast", b"Q": "request", b"R": "reply", b"!": "ready"}
_KIND_BYTES = {name: byte for byte, name in KINDS.items()}
_LENGTH = struct.Struct("!I")
#: The bytes a frame adds around its payload, at most (kind, name size, a 255-byte name).
FRAME_OVERHEAD = 2 + 255


@attrs.frozen
class PipeFrame:
    """One frame read from the pipe."""

    kind: str
    channel: str
    payload: bytes


def encode_pipe_frame(kind: str, channel: str, payload: bytes = b"") -> bytes:
    """The bytes of one frame (*kind* is a value of :data:`KINDS`)."""
    name = channel.encode("ascii")
    if len(name) > 255:
        raise ValueError(f"a channel name is at most 255 bytes, not {len(name)}")
    body = _KIND_BYTES[kind] + bytes((len(name),)) + name + payload
    return _LENGTH.pack(len(body)) + body


class PipeDecoder:
    """Whole frames out of the bytes read from the pipe, however they were split.

    A frame longer than *max_payload* (plus the header) raises
    :class:`~relays_bridge.BridgeProtocolError` as soon as its length is read, before
    the bytes arrive, so a broken peer cannot make this process buffer without bound.
    """

    def __init__(self, max_payload: int) -> None:
        self.max_frame = max_payload + FRAME_OVERHEAD
        self._buffer = bytearray()

    def feed(self, data: bytes) -> list[PipeFrame]:
        """Add *data*; return the frames it completed, in order (a partial frame waits)."""
        buffer = self._buffer
        buffer += data
        frames: list[PipeFrame] = []
        start = 0
        while len(buffer) - start >= _LENGTH.size:
            (length,) = _LENGTH.unpack_from(buffer, start)
            if length > self.max_frame:
                raise BridgeProtocolError(
                    f"a pipe frame of {length} bytes is over the limit of {self.max_frame} "
                    "(max_message_size)"
                )
            end = start + _LENGTH.size + length
            if len(buffer) < end:
                break
            frames.append(_parse(bytes(buffer[start + _LENGTH.size : end])))
            start = end
        del buffer[:start]
        return frames

    @property
    def pending(self) -> int:
        """Bytes of a frame not complete yet."""
        return len(self._buffer)


def _parse(body: bytes) -> PipeFrame:
    if len(body) < 2:
        raise BridgeProtocolError("a pipe frame too short for its header")
    kind = KINDS.get(body[:1])
    if kind is None:
        raise BridgeProtocolError(f"a pipe frame of unknown kind {body[:1]!r}")
    size = body[1]
    if len(body) < 2 + size:
        raise BridgeProtocolError("a pipe frame shorter than its channel name")
    try:
        channel = body[2 : 2 + size].decode("ascii")
    except UnicodeDecodeError:
        raise BridgeProtocolError("a pipe frame whose channel name is not ASCII") from None
    return PipeFrame(kind, channel, body[2 + size :])
