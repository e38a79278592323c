"""Hypothesis strategies for the WebSocket frame core (needs hypothesis).

:func:`frames` draws valid frames with what they decode to; :func:`streams` draws a
whole valid stream of them (fragmented messages with pings between the fragments
included) with the messages it must parse to. Pair them with
:func:`relays.testing.strategies.splits`: any split of a valid stream parses the
same. :func:`encode_frame` writes any frame, valid or not, for hand-made cases.
"""

from __future__ import annotations

import os
import struct

from hypothesis import strategies as st

from .._masking import fastest_apply_mask as apply_mask

__all__ = ["encode_frame", "frames", "messages", "streams"]


def encode_frame(
    opcode: int,
    payload: bytes,
    *,
    fin: bool = True,
    rsv: int = 0,
    mask: bytes | None = None,
) -> bytes:
    """One frame on the wire, as a peer would write it (*mask* for client frames)."""
    first = (0x80 if fin else 0) | (rsv & 7) << 4 | opcode
    mask_bit = 0x80 if mask is not None else 0
    length = len(payload)
    if length < 126:
        header = bytes((first, mask_bit | length))
    elif length < 65536:
        header = struct.pack("!BBH", first, mask_bit | 126, length)
    else:
        header = struct.pack("!BBQ", first, mask_bit | 127, length)
    if mask is None:
        return header + payload
    return header + mask + apply_mask(payload, mask)


def messages(max_size: int = 300) -> st.SearchStrategy[str | bytes]:
    """Text or binary messages."""
    return st.one_of(st.text(max_size=max_size), st.binary(max_size=max_size))


@st.composite
def _message_frames(draw: st.DrawFn, message: str | bytes, masked: bool) -> bytes:
    payload = message.encode() if isinstance(message, str) else message
    opcode = 0x1 if isinstance(message, str) else 0x2
    cuts = sorted(draw(st.lists(st.integers(0, len(payload)), max_size=3)))
    pieces = [
        payload[start:end] for start, end in zip([0, *cuts], [*cuts, len(payload)], strict=True)
    ]
    out = bytearray()
    for index, piece in enumerate(pieces):
        mask = os.urandom(4) if masked else None
        final = index == len(pieces) - 1
        out += encode_frame(opcode if index == 0 else 0x0, piece, fin=final, mask=mask)
        if not final and draw(st.booleans()):
            out += encode_frame(0x9, b"between", mask=mask)  # a ping inside the message
    return bytes(out)


def frames(masked: bool = True) -> st.SearchStrategy[tuple[bytes, str | bytes]]:
    """``(wire bytes, message)``: one message, maybe fragmented, maybe with pings inside."""
    return messages().flatmap(
        lambda message: _message_frames(message, masked).map(lambda wire: (wire, message))
    )


def streams(masked: bool = True) -> st.SearchStrategy[tuple[bytes, list[str | bytes]]]:
    """``(wire bytes, messages)``: several messages back to back."""
    return st.lists(frames(masked), max_size=6).map(
        lambda items: (b"".join(wire for wire, _ in items), [message for _, message in items])
    )
