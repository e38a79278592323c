"""The ``line`` protocol: a byte stream cut into lines, with a limit on their length.

Theory of operation: :class:`LineBuffer` is the sans-IO core. Bytes go in through
:meth:`LineBuffer.feed`; every complete line (its separator removed, and a ``\\r``
before a ``\\n`` too) comes out, in order; the bytes after the last separator stay
pending for the next feed. Because only the pending tail is kept, how the stream was
cut into reads never changes the lines. A tail that grows past ``max_line_length``
without a separator raises :class:`LineTooLong`: a peer that never sends a newline
cannot make us buffer without end.

:class:`Line` is the thin glue: a component on a transport's channel that feeds each
``read`` into one buffer per connection and fires ``line`` events. It works with both
shapes of :mod:`relays.transports`: a server's ``read(sock, data)`` gives
``line(sock, line)``, a client's (or a pipe's) ``read(data)`` gives ``line(line)``.
"""

from __future__ import annotations

from typing import Any

from relays import BaseComponent, Event, handler
from relays.transports import Connection, Error

__all__ = ["DEFAULT_MAX_LINE_LENGTH", "Line", "LineBuffer", "LineEvent", "LineTooLong"]

#: Longest line (in bytes, separator excluded) a :class:`Line` accepts by default.
DEFAULT_MAX_LINE_LENGTH = 64 * 1024


class LineTooLong(ValueError):
    """The peer sent more than ``max_line_length`` bytes without a line separator.

    A remote error (the peer's fault): :class:`Line` reports it as an ``error`` event and
    closes a server connection. Raise ``max_line_length`` if such lines are legitimate.
    ``lines`` holds the complete lines the same :meth:`LineBuffer.feed` found before the
    long one, so nothing the peer sent correctly is lost.
    """

    def __init__(self, message: str, lines: list[bytes] | None = None) -> None:
        super().__init__(message)
        self.lines: list[bytes] = lines or []


class LineEvent(Event):
    """``line(sock, line)`` from a server connection, ``line(line)`` from a client or pipe.

    *line* is ``bytes`` without its separator, or ``str`` when the :class:`Line` was
    given an ``encoding``.
    """

    name = "line"


class LineBuffer:
    """Cuts a byte stream into lines; keeps the unfinished tail for the next :meth:`feed`.

    The tail is kept as the list of reads that make it up, joined only when a separator
    arrives: a long line that comes in many small reads costs one copy, not one per read.
    """

    def __init__(
        self, *, separator: bytes = b"\n", max_line_length: int = DEFAULT_MAX_LINE_LENGTH
    ) -> None:
        if not separator:
            raise ValueError("a line separator must be at least one byte")
        if max_line_length < 1:
            raise ValueError(f"max_line_length must be 1 or more, not {max_line_length}")
        self.separator = separator
        self.max_line_length = max_line_length
        self._strip_return = separator == b"\n"
        self._seam = len(separator) - 1
        #: Bytes at the end of the tail that may still turn out to be separator.
        self._slack = self._seam + self._strip_return
        self._tail: list[bytes] = []  # the reads since the last separator
        self._tail_length = 0
        # The tail's last len(separator) - 1 bytes, where a separator may begin.
        self._tail_end = b""

    @property
    def pending(self) -> bytes:
        """The bytes received after the last separator (the start of the next line)."""
        return b"".join(self._tail)

    def feed(self, data: bytes) -> list[bytes]:
        """Add *data*; return the lines it completed. Raises :class:`LineTooLong`.

        After :class:`LineTooLong` the buffer is empty: what was pending is dropped.
        """
        separator = self.separator
        if type(data) is not bytes:
            data = bytes(data)
        tail = self._tail
        # A separator may begin in the tail and end in *data*: probe across the seam.
        seam = self._seam
        probe = self._tail_end + data if seam else data
        if separator not in probe:
            tail.append(data)
            self._tail_length += len(data)
            if seam:
                self._tail_end = probe[-seam:]
            if self._tail_length - self._slack > self.max_line_length:
                self._tail_too_long([])
            return []
        whole = b"".join([*tail, data]) if tail else data
        parts = whole.split(separator)
        rest = parts.pop()
        self._tail = [rest] if rest else []
        self._tail_length = len(rest)
        if seam:
            self._tail_end = rest[-seam:]
        if self._strip_return and b"\r" in whole:
            parts = [part[:-1] if part.endswith(b"\r") else part for part in parts]
        limit = self.max_line_length
        if max(map(len, parts)) > limit:
            good = next(i for i, part in enumerate(parts) if len(part) > limit)
            self.clear()
            raise LineTooLong(self._too_long(len(parts[good])), parts[:good])
        if self._tail_length - self._slack > limit:
            self._tail_too_long(parts)
        return parts

    def _tail_too_long(self, lines: list[bytes]) -> None:
        # The tail may end with the start of a separator (and, for "\n", a "\r" that
        # belongs to it): the line it begins is at least its length minus that slack,
        # however it ends. Checking only what must be line keeps the outcome the same
        # for every split of the stream.
        shortest = self._tail_length - self._slack
        self.clear()
        raise LineTooLong(self._too_long(shortest), lines)

    def clear(self) -> bytes:
        """Forget the pending tail (the connection ended); return what it held."""
        pending = self.pending
        self._tail = []
        self._tail_length = 0
        self._tail_end = b""
        return pending

    def _too_long(self, length: int) -> str:
        return (
            f"a line of {length} bytes or more exceeds max_line_length="
            f"{self.max_line_length}; raise the limit if such lines are expected"
        )


class Line(BaseComponent):
    """Fires ``line`` events for the lines read on its channel (a transport's channel).

    Register it beside a server, client or :func:`~relays_io.Pipe` end, on that
    component's channel. *encoding* (e.g. ``"utf-8"``) turns lines into ``str``; bytes
    that do not decode are replaced. A line longer than *max_line_length* bytes
    fires ``error(sock, LineTooLong)`` (``error(LineTooLong)`` for a client) and closes
    a server connection. Bytes after the last separator when a stream ends are not a line
    (as for ``wc -l``): they are dropped with the connection.
    """

    def __init__(
        self,
        *,
        channel: Any = "*",
        separator: bytes = b"\n",
        max_line_length: int = DEFAULT_MAX_LINE_LENGTH,
        encoding: str | None = None,
    ) -> None:
        super().__init__(channel=channel)
        LineBuffer(separator=separator, max_line_length=max_line_length)  # check the options
        self.separator = separator
        self.max_line_length = max_line_length
        self.encoding = encoding
        # One buffer per connection; the client's single stream is keyed by None.
        self._buffers: dict[Any, LineBuffer] = {}

    def _buffer(self, key: Any) -> LineBuffer:
        buffer = self._buffers.get(key)
        if buffer is None:
            buffer = self._buffers[key] = LineBuffer(
                separator=self.separator, max_line_length=self.max_line_length
            )
        return buffer

    @handler("read")
    def _on_read(self, *args: Any) -> None:
        if len(args) == 2 and isinstance(args[0], Connection):
            sock, data = args
            prefix: tuple[Any, ...] = (sock,)
        elif len(args) == 1:
            sock, data = None, args[0]
            prefix = ()
        else:
            return  # a datagram read(address, data): lines need a stream
        if isinstance(data, str):  # a File in text mode: cut its text as UTF-8 bytes
            data = data.encode(self.encoding or "utf-8")
        try:
            lines = self._buffer(sock).feed(data)
        except LineTooLong as error:
            for line in error.lines:
                self._fire_line(prefix, line)
            self.fire(Error(*prefix, error))
            if sock is not None:
                self._buffers.pop(sock, None)
                sock.close()
            return
        for line in lines:
            self._fire_line(prefix, line)

    def _fire_line(self, prefix: tuple[Any, ...], line: bytes) -> None:
        text: Any = line.decode(self.encoding, "replace") if self.encoding else line
        self.fire(LineEvent(*prefix, text))

    @handler("disconnect")
    def _on_disconnect(self, sock: Any = None, *args: Any) -> None:
        self._buffers.pop(sock, None)

    @handler("disconnected")
    def _on_disconnected(self, *args: Any) -> None:
        self._buffers.pop(None, None)
