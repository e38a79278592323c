"""The ``Server`` and ``Date`` lines every response carries, rendered once a second."""

from __future__ import annotations

import time
from email.utils import formatdate

__all__ = ["DateLine", "wall_clock"]

#: The clock the lines follow (``time.time``); the connection compares its second.
wall_clock = time.time


class DateLine:
    """``Server`` and ``Date`` field lines, one bytes object per second.

    The protocol core checks a rendered value once and the object keeps its hash,
    so a response pays a clock read and a comparison. The second is the clock
    floored as a float (``int()`` would cost more than the rest); any change
    renews the lines, backwards too (the clock was set back).
    """

    __slots__ = ("_server_line", "current", "second", "typed")

    def __init__(self, server_name: str) -> None:
        self._server_line = b"server: %s\r\n" % server_name.encode("latin-1")
        #: The second (``wall_clock() // 1.0``) :attr:`current` is for; read-only by
        #: intent: a caller on the hot path compares it and uses :attr:`current`
        #: without a call when it is still this second.
        self.second = -1.0
        #: The lines last rendered, for :attr:`second`.
        self.current = b""
        #: :attr:`current` followed by a ``content-type`` line, by content type: the
        #: whole set of fields of a response that sets none of its own, so that it
        #: costs the protocol core no field to check (see :meth:`with_content_type`).
        #: Read-only by intent, as :attr:`current`; emptied when the second changes.
        self.typed: dict[bytes, bytes] = {}

    def lines(self) -> bytes:
        """This second's ``Server`` and ``Date`` lines."""
        second = wall_clock() // 1.0
        if second != self.second:
            date = formatdate(int(second), usegmt=True).encode("ascii")
            self.current = self._server_line + b"date: %s\r\n" % date
            self.second = second
            self.typed = {}
        return self.current

    def with_content_type(self, content_type: bytes) -> bytes:
        """This second's lines and a ``content-type`` line (made once per second and
        type; the server passes only its own few content types, so :attr:`typed`
        stays small)."""
        rendered = self.lines() + b"content-type: %s\r\n" % content_type
        self.typed[content_type] = rendered
        return rendered
