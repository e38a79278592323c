"""File-system changes without I/O: decoding inotify's records, merging bursts of them.

Theory of operation: the kernel's inotify descriptor yields records of a fixed
16-byte head (watch descriptor, mask, cookie, name length) followed by the name,
NUL-padded to that length. :class:`InotifyDecoder` turns bytes into :class:`RawChange`
records and keeps an incomplete record for the next feed; a name length no file
system can produce is an :class:`InotifyDataError`, never a huge allocation.

Editors and copies change a file in bursts (truncate, many writes, attributes).
:class:`ChangeBatch` collects the changes seen during one debounce window and gives
each distinct change once, in the order it was first seen: a tailer is told "this
file changed", not how many system calls did it.
"""

from __future__ import annotations

import struct
from typing import Literal

import attrs

__all__ = [
    "MAX_NAME_LENGTH",
    "Change",
    "ChangeBatch",
    "InotifyDataError",
    "InotifyDecoder",
    "RawChange",
]

_HEAD = struct.Struct("=iIII")
#: Longest name field a record may carry: NAME_MAX (255) plus the kernel's padding.
MAX_NAME_LENGTH = 4096

Kind = Literal["created", "modified", "deleted", "moved", "attributes"]


class InotifyDataError(ValueError):
    """Bytes that are not inotify records (a name length over :data:`MAX_NAME_LENGTH`)."""


@attrs.frozen
class RawChange:
    """One inotify record: the watch it came from, its mask, move cookie and name."""

    watch: int
    mask: int
    cookie: int
    name: str


@attrs.frozen
class Change:
    """One change to report: its *kind*, the *path*, and for a move its *destination*."""

    kind: Kind
    path: str
    destination: str | None = None


class InotifyDecoder:
    """Bytes from an inotify descriptor in, :class:`RawChange` records out."""

    def __init__(self) -> None:
        self._pending = bytearray()

    @property
    def pending(self) -> bytes:
        """Bytes of a record not complete yet."""
        return bytes(self._pending)

    def feed(self, data: bytes) -> list[RawChange]:
        """Add *data*; return the records it completed. Raises :class:`InotifyDataError`."""
        self._pending += data
        records: list[RawChange] = []
        offset = 0
        while len(self._pending) - offset >= _HEAD.size:
            watch, mask, cookie, length = _HEAD.unpack_from(self._pending, offset)
            if length > MAX_NAME_LENGTH:
                self._pending.clear()
                raise InotifyDataError(
                    f"an inotify record names {length} bytes (at most {MAX_NAME_LENGTH}):"
                    " this is not inotify data"
                )
            end = offset + _HEAD.size + length
            if end > len(self._pending):
                break
            raw_name = bytes(self._pending[offset + _HEAD.size : end]).split(b"\0", 1)[0]
            name = raw_name.decode("utf-8", "surrogateescape")
            records.append(RawChange(watch, mask, cookie, name))
            offset = end
        del self._pending[:offset]
        return records


class ChangeBatch:
    """The distinct changes of one debounce window, in the order first seen."""

    def __init__(self) -> None:
        self._changes: dict[Change, None] = {}

    def add(self, change: Change) -> bool:
        """Note *change*; True when it is the first change of the batch (start a timer)."""
        first = not self._changes
        self._changes.setdefault(change, None)
        return first

    def take(self) -> list[Change]:
        """The batch's changes, each once; the batch is empty afterwards."""
        changes = list(self._changes)
        self._changes.clear()
        return changes

    def __len__(self) -> int:
        return len(self._changes)
