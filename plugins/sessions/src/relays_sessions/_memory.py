"""The memory store: sessions in a dict of this process, gone when it exits.

Every operation runs on the event loop's thread without awaiting anything, so
each one is atomic, and ``load_sync`` (a sync handler's first use of a session)
is the same dict lookup as ``load``. Expired entries are swept at most every ``sweep_interval``
seconds, on a write; a read of an expired entry drops it at once. When the store
holds ``max_sessions`` live entries, the one closest to expiry makes room.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from urllib.parse import parse_qsl, urlsplit

from ._store import Changes, Record

__all__ = ["MemoryStore"]


class _Entry:
    __slots__ = ("created", "data", "expires")

    def __init__(self, data: dict[str, str], created: float, expires: float) -> None:
        self.data = data
        self.created = created
        self.expires = expires


class MemoryStore:
    """Sessions in this process's memory; ``memory://?max_sessions=100000``.

    Fine for one process and for tests. Sessions are lost on restart and not
    shared between ``--workers``: use the SQLite or Redis store for that.
    """

    def __init__(
        self,
        *,
        max_sessions: int = 100_000,
        sweep_interval: float = 60.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if max_sessions < 1:
            raise ValueError(f"max_sessions must be at least 1, not {max_sessions}")
        #: Most sessions kept; beyond it the one closest to expiry is dropped.
        self.max_sessions = max_sessions
        #: Seconds between two sweeps of expired entries.
        self.sweep_interval = sweep_interval
        self._clock = clock
        self._entries: dict[str, _Entry] = {}
        self._next_sweep = clock() + sweep_interval

    @classmethod
    def from_url(cls, url: str) -> MemoryStore:
        """``memory://`` with optional ``max_sessions`` and ``sweep_interval`` parameters."""
        options = dict(parse_qsl(urlsplit(url).query))
        unknown = set(options) - {"max_sessions", "sweep_interval"}
        if unknown:
            raise ValueError(f"unknown memory store options {sorted(unknown)} in {url!r}")
        return cls(
            max_sessions=int(options.get("max_sessions", 100_000)),
            sweep_interval=float(options.get("sweep_interval", 60.0)),
        )

    def __len__(self) -> int:
        """Entries held, expired ones not yet swept included."""
        return len(self._entries)

    def _live(self, session_id: str) -> _Entry | None:
        entry = self._entries.get(session_id)
        if entry is not None and entry.expires <= self._clock():
            del self._entries[session_id]
            return None
        return entry

    def sweep(self) -> int:
        """Drop every expired entry now; returns how many."""
        now = self._clock()
        expired = [key for key, entry in self._entries.items() if entry.expires <= now]
        for key in expired:
            del self._entries[key]
        self._next_sweep = now + self.sweep_interval
        return len(expired)

    def load_sync(self, session_id: str) -> Record | None:
        """:meth:`load` as a plain call: a dict lookup, so it never blocks."""
        entry = self._live(session_id)
        if entry is None:
            return None
        return Record(dict(entry.data), entry.created, entry.expires)

    async def load(self, session_id: str) -> Record | None:
        return self.load_sync(session_id)

    async def save(self, session_id: str, changes: Changes) -> None:
        if self._clock() >= self._next_sweep:
            self.sweep()
        entry = self._live(session_id)
        if entry is None:
            if not changes.create:
                return
            if len(self._entries) >= self.max_sessions and not self.sweep():
                oldest = min(self._entries, key=lambda key: self._entries[key].expires)
                del self._entries[oldest]
            entry = self._entries[session_id] = _Entry({}, changes.created, changes.expires)
        data = entry.data
        for key in changes.deleted:
            data.pop(key, None)
        data.update(changes.written)
        entry.expires = changes.expires

    async def touch(self, session_id: str, expires: float) -> None:
        entry = self._live(session_id)
        if entry is not None:
            entry.expires = expires

    async def delete(self, session_id: str) -> None:
        self._entries.pop(session_id, None)

    async def close(self) -> None:
        """Nothing to release: the sessions stay for the process's lifetime."""
