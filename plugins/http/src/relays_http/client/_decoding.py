"""Content decoding (gzip, deflate, and brotli and zstd when installed), bounded in size.

A small compressed body can expand a thousandfold ("zip bomb"), so every decoder
counts what it produced against ``max_body_size`` and stops at the limit instead of
producing it first: zlib is asked for at most the remaining allowance per call.
"""

from __future__ import annotations

import importlib
import zlib
from types import ModuleType
from typing import Any, Protocol

from ._errors import DecodingError, ResponseTooLarge

__all__ = ["ACCEPT_ENCODING", "BodyDecoder", "make_decoder"]


def _optional(name: str) -> ModuleType | None:
    try:
        return importlib.import_module(name)
    except ImportError:
        return None


_brotli = _optional("brotli")
_zstandard = _optional("zstandard")

#: The ``Accept-Encoding`` this client sends: what it can decode here and now.
ACCEPT_ENCODING = ", ".join(
    ["gzip", "deflate"] + (["br"] if _brotli else []) + (["zstd"] if _zstandard else [])
)


class _Step(Protocol):
    def decode(self, data: bytes, allowance: int) -> bytes: ...
    def flush(self) -> bytes: ...


class _Zlib:
    """gzip, and deflate with or without its zlib wrapper (servers send both)."""

    def __init__(self, encoding: str) -> None:
        self._encoding = encoding
        self._wbits = 16 + zlib.MAX_WBITS if encoding == "gzip" else zlib.MAX_WBITS
        self._decompressor: Any = None

    def decode(self, data: bytes, allowance: int) -> bytes:
        if self._decompressor is None:
            if self._encoding == "deflate" and data and (data[0] & 0x0F) != 8:
                self._wbits = -zlib.MAX_WBITS  # raw deflate, no zlib header
            self._decompressor = zlib.decompressobj(self._wbits)
        # At most one byte over the allowance: enough for the caller to see the limit
        # was crossed, never the whole expansion (input left unconsumed is dropped
        # with the error that follows).
        return bytes(self._decompressor.decompress(data, allowance + 1))

    def flush(self) -> bytes:
        return bytes(self._decompressor.flush()) if self._decompressor is not None else b""


class _Brotli:
    def __init__(self) -> None:
        assert _brotli is not None
        self._decompressor = _brotli.Decompressor()

    def decode(self, data: bytes, allowance: int) -> bytes:
        return bytes(self._decompressor.process(data))

    def flush(self) -> bytes:
        return b""


class _Zstd:
    def __init__(self) -> None:
        assert _zstandard is not None
        self._decompressor = _zstandard.ZstdDecompressor().decompressobj()

    def decode(self, data: bytes, allowance: int) -> bytes:
        return bytes(self._decompressor.decompress(data))

    def flush(self) -> bytes:
        return b""


class BodyDecoder:
    """Undo a response's content codings, last applied first, within a size limit."""

    def __init__(self, steps: list[_Step], limit: int, host: str) -> None:
        self._steps = steps
        self._limit = limit
        self._produced = 0
        self._host = host

    def decode(self, data: bytes) -> bytes:
        """Decode one piece of the body."""
        try:
            for step in self._steps:
                data = step.decode(data, self._limit - self._produced)
        except (zlib.error, OSError, ValueError) as error:
            raise DecodingError(f"cannot decode the body from {self._host}: {error}") from None
        except Exception as error:  # brotli.error and zstd.ZstdError derive from Exception
            raise DecodingError(f"cannot decode the body from {self._host}: {error}") from None
        return self._count(data)

    def flush(self) -> bytes:
        """What the decoders still hold at the end of the body."""
        data = b""
        try:
            for step in self._steps:
                if data:
                    data = step.decode(data, self._limit - self._produced)
                data += step.flush()
        except Exception as error:
            raise DecodingError(f"cannot decode the body from {self._host}: {error}") from None
        return self._count(data)

    def _count(self, data: bytes) -> bytes:
        self._produced += len(data)
        if self._produced > self._limit:
            raise ResponseTooLarge(
                f"the body from {self._host} decodes to more than max_body_size "
                f"({self._limit} bytes)"
            )
        return data


def make_decoder(content_encoding: str | None, limit: int, host: str) -> BodyDecoder | None:
    """The decoder for a ``Content-Encoding`` value; None when there is nothing to undo.

    An encoding this client cannot decode leaves the body as it came: the caller
    sees the bytes and the header, rather than an error for a body it may only store.
    """
    if not content_encoding:
        return None
    steps: list[_Step] = []
    for encoding in reversed([item.strip().lower() for item in content_encoding.split(",")]):
        if encoding in ("gzip", "x-gzip"):
            steps.append(_Zlib("gzip"))
        elif encoding == "deflate":
            steps.append(_Zlib("deflate"))
        elif encoding == "br" and _brotli is not None:
            steps.append(_Brotli())
        elif encoding == "zstd" and _zstandard is not None:
            steps.append(_Zstd())
        elif encoding in ("identity", ""):
            continue
        else:
            return None
    return BodyDecoder(steps, limit, host) if steps else None
