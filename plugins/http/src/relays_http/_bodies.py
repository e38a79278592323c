"""Bodies as the bridges to other servers carry them (WSGI, ASGI, compression).

A WSGI server hands relays a request body as a stream of blocks, an ASGI server as
``http.request`` messages; both become one :class:`~relays_http.Request` body by the
same rule, :class:`SpooledBody`: kept in memory up to ``limits.spool_threshold``,
in a temporary file past it, a 413 past ``limits.max_body_size``. Going the other
way, whatever a streamed answer yields becomes bytes by one rule,
:func:`chunk_bytes`.
"""

from __future__ import annotations

import tempfile
from typing import IO, Any

from ._errors import PayloadTooLarge
from ._limits import Limits

__all__ = ["SpooledBody", "chunk_bytes"]


class SpooledBody:
    """A request body received in pieces, under *limits*; sans-IO (the caller reads).

    ``add()`` each piece as it comes, then take ``result()``: ``bytes``, or a temporary
    file (at its start) once the body passed ``limits.spool_threshold``; the request
    closes it. A caller that gives up half-way (a disconnect, a 413) calls
    ``discard()`` so that no temporary file is left open.
    """

    __slots__ = ("_chunks", "_limits", "_size", "_spool")

    def __init__(self, limits: Limits) -> None:
        self._limits = limits
        self._chunks: list[bytes] = []
        self._size = 0
        self._spool: IO[bytes] | None = None

    @property
    def size(self) -> int:
        """How many bytes were added."""
        return self._size

    def add(self, chunk: bytes) -> None:
        """One more piece; :class:`~relays_http.PayloadTooLarge` past ``max_body_size``."""
        self._size += len(chunk)
        limits = self._limits
        if self._size > limits.max_body_size:
            self.discard()
            raise PayloadTooLarge(f"the request body is larger than {limits.max_body_size} bytes")
        if self._spool is None and self._size > limits.spool_threshold:
            self._spool = tempfile.TemporaryFile()  # noqa: SIM115 - closed with the request
            self._spool.writelines(self._chunks)
            self._chunks.clear()
        if self._spool is not None:
            self._spool.write(chunk)
        elif chunk:
            self._chunks.append(chunk)

    def result(self) -> bytes | IO[bytes]:
        """The whole body: bytes, or the temporary file it was spooled to, at its start."""
        if self._spool is None:
            return b"".join(self._chunks)
        self._spool.seek(0)
        return self._spool

    def discard(self) -> None:
        """Drop what was received; closes the temporary file, if there is one."""
        self._chunks.clear()
        if self._spool is not None:
            self._spool.close()
            self._spool = None


def chunk_bytes(chunk: Any) -> bytes:
    """One chunk a streamed answer yielded, as bytes: ``str`` as UTF-8, bytes as they are.

    Anything else raises :class:`TypeError` naming what was yielded.
    """
    if type(chunk) is bytes:  # nearly every chunk: one check on the streaming path
        return chunk
    if isinstance(chunk, str):
        return chunk.encode("utf-8")
    if isinstance(chunk, bytes | bytearray | memoryview):
        return bytes(chunk)
    raise TypeError(f"a streamed body yielded {type(chunk).__name__}; yield bytes or str")
