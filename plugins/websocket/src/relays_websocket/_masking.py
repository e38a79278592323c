"""XOR masking of frame payloads (RFC 6455 section 5.3): the hot loop of a WebSocket.

A client masks every byte it sends and a server unmasks every byte it reads. A loop
over bytes in Python costs ~50 ns a byte, so there are three paths, fastest first
(``benchmarks/websocket.py --core`` measures them):

- the C ``apply_mask`` of the ``websockets`` library (``websockets.speedups``, a
  maintained, vectorised C extension), used when that library is installed
  (``pip install relays-websocket[speedups]``): about 1 us for 64 KiB;
- below 1 KiB, the payload and the repeated key as two integers XOR-ed once (the
  loop runs in CPython's long arithmetic; cheapest for small payloads);
- from 1 KiB, ``bytes.translate`` of every fourth byte with one 256-byte XOR table
  per key byte: four passes in C. (Big-integer conversion grows worse than linearly;
  at 64 KiB the translate path is ~10x faster.)

Both pure-Python paths are always tested against each other and against the C path.
"""

from __future__ import annotations

from collections.abc import Callable

__all__ = ["apply_mask", "apply_mask_python", "c_apply_mask", "fastest_apply_mask"]

#: From this payload size on, the translate path beats the integer one.
TRANSLATE_FROM = 1024
_XOR_TABLES = [bytes(value ^ key for value in range(256)) for key in range(256)]


def apply_mask_python(data: bytes | bytearray | memoryview, mask: bytes | bytearray) -> bytes:
    """*data* XOR-ed with the 4-byte *mask* repeated, in pure Python."""
    length = len(data)
    if length < TRANSLATE_FROM:
        whole, rest = divmod(length, 4)
        key = bytes(mask) * whole + bytes(mask[:rest])
        return (int.from_bytes(data, "little") ^ int.from_bytes(key, "little")).to_bytes(
            length, "little"
        )
    out = bytearray(data)
    out[0::4] = out[0::4].translate(_XOR_TABLES[mask[0]])
    out[1::4] = out[1::4].translate(_XOR_TABLES[mask[1]])
    out[2::4] = out[2::4].translate(_XOR_TABLES[mask[2]])
    out[3::4] = out[3::4].translate(_XOR_TABLES[mask[3]])
    return bytes(out)


def _find_c_apply_mask() -> (
    Callable[[bytes | bytearray | memoryview, bytes | bytearray], bytes] | None
):
    try:
        from websockets.speedups import apply_mask as found
    except ImportError:
        return None
    return found


#: The C path, or None when the ``websockets`` library (or its C extension) is missing.
c_apply_mask = _find_c_apply_mask()


#: The fastest of the paths here, called by the protocol core directly.
fastest_apply_mask: Callable[[bytes | bytearray | memoryview, bytes | bytearray], bytes] = (
    c_apply_mask if c_apply_mask is not None else apply_mask_python
)


def apply_mask(data: bytes | bytearray | memoryview, mask: bytes | bytearray) -> bytes:
    """*data* XOR-ed with the 4-byte *mask* repeated: masking and unmasking alike.

    The C path when the ``websockets`` library is installed
    (``relays-websocket[speedups]``), otherwise pure Python.
    """
    return fastest_apply_mask(data, mask)
