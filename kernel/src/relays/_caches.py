"""One bounded cache for the whole house: a dict that cannot grow past a named size.

Theory of operation. The hot paths remember answers that are costly to work out and
asked again and again: a header name checked and lower-cased, a ``Content-Length``
line, which handlers run for an event. The keys often come from the network (a
client picks its header names), so every such memory must be bounded, or a client
sending endless new names grows the server without end.

One policy serves them all: when a new key would go past :attr:`BoundedCache.size`,
the cache is emptied first, then the key is stored. Why this one:

* a hit costs one dict lookup and nothing else: no recency to record, as an LRU
  must on every hit (on the hot path that bookkeeping would cost more than most of
  the answers it keeps);
* a miss costs the work it always cost, plus an amortised O(1) store: emptying
  happens once per :attr:`~BoundedCache.size` new keys;
* after a flood of new keys, the common ones are back at their next use (a cache
  that stops storing when full would keep the flood's keys and lose them for good).

Readers ask with :meth:`BoundedCache.get`, which *is* the underlying dict's ``get``
(no Python frame in between); writers go through :meth:`BoundedCache.remember`, the
only way in, so the bound holds whoever writes.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Generic, Protocol, TypeVar, cast, overload

__all__ = ["BoundedCache"]

_Key = TypeVar("_Key")
_Value = TypeVar("_Value")
_Default = TypeVar("_Default")
_Key_contra = TypeVar("_Key_contra", contravariant=True)
_Value_co = TypeVar("_Value_co", covariant=True)


class _Lookup(Protocol[_Key_contra, _Value_co]):
    """A dict's ``get``: the answer, else None or the default given."""

    @overload
    def __call__(self, key: _Key_contra, /) -> _Value_co | None: ...
    @overload
    def __call__(self, key: _Key_contra, default: _Default, /) -> _Value_co | _Default: ...


class BoundedCache(Generic[_Key, _Value]):
    """Answers remembered by key, at most *size* of them; emptied when full.

    ``cache.get(key)`` is the answer or None (a dict's ``get``: as fast as one);
    ``cache.remember(key, value)`` stores and returns *value*, emptying the cache
    first when *key* is new and :attr:`size` answers are already held. *name* says
    what it holds, for ``repr()`` and error messages. ``get(key, default)`` tells a
    remembered None from an unknown key.
    """

    __slots__ = ("_entries", "get", "name", "size")

    def __init__(self, size: int, name: str = "cache") -> None:
        if size < 1:
            raise ValueError(f"a BoundedCache holds at least 1 entry, not {size!r} ({name})")
        #: The most entries held at once.
        self.size = size
        #: What the cache holds, in a few words.
        self.name = name
        self._entries: dict[_Key, _Value] = {}
        #: The remembered answer for a key, or None (or the default given).
        # (typeshed spells dict.get's overloads its own way: the same calls.)
        self.get = cast("_Lookup[_Key, _Value]", self._entries.get)

    def remember(self, key: _Key, value: _Value) -> _Value:
        """Store *value* for *key* (emptying the cache first when it is full); return it."""
        entries = self._entries
        if len(entries) >= self.size and key not in entries:
            entries.clear()  # the same dict: ``get`` stays bound to it
        entries[key] = value
        return value

    def clear(self) -> None:
        """Forget every answer (when what they were worked out from has changed)."""
        self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, key: object) -> bool:
        return key in self._entries

    def __iter__(self) -> Iterator[_Key]:
        return iter(self._entries)

    def __repr__(self) -> str:
        return f"<BoundedCache {self.name}: {len(self._entries)} of {self.size}>"
