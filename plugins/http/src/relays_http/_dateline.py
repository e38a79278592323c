"""The ``Server`` and ``Date`` lines every response carries, rendered once a second."""

from __future__ import annotations

import time
from email.utils import formatdate

__all__ = ["DateLine"]

_wall_clock = time.time


class DateLine:
    """``Server`` and ``Date`` field lines, one bytes object per second.

    The protocol core checks a rendered value once and the object keeps its hash,
    so a response pays a clock read and a comparison. The second is the clock
    floored as a float (``int()`` would cost more than the rest); any change
    renews the lines, backwards too (the clock was set back).
    """

    __slots__ = ("_lines", "_second", "_server_line")

    def __init__(self, server_name: str) -> None:
        self._server_line = b"server: %s\r\n" % server_name.encode("latin-1")
        self._second = -1.0
        self._lines = b""

    def lines(self) -> bytes:
        """This second's ``Server`` and ``Date`` lines."""
        second = _wall_clock() // 1.0
        if second != self._second:
            date = formatdate(int(second), usegmt=True).encode("ascii")
            self._lines = self._server_line + b"date: %s\r\n" % date
            self._second = second
        return self._lines
