"""Multi-valued mappings: query and form fields (:class:`MultiDict`) and headers.

HTTP lets a name repeat (``?tag=a&tag=b``, two ``Set-Cookie`` fields), so both
keep every ``(name, value)`` pair in order. Item access gives the *first* value,
:meth:`MultiDict.getall` every value, and assignment replaces all of them.
:class:`Headers` folds names to lower case, since field names are
case-insensitive (RFC 9110 5.1).

Lookups scan the pair list: a request carries a few dozen fields at most, and a
list beats maintaining an index on the hot path, where most headers are never
looked at.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, MutableMapping
from typing import TypeVar, overload

__all__ = ["Headers", "MultiDict"]

_T = TypeVar("_T")
_MISSING: object = object()

Pairs = Iterable[tuple[str, str]]


class MultiDict(MutableMapping[str, str]):
    """An ordered mapping of ``str`` names to ``str`` values where names may repeat."""

    __slots__ = ("_pairs",)

    def __init__(self, pairs: Mapping[str, str] | Pairs | None = None) -> None:
        # Stored as (folded name, name as given, value).
        self._pairs: list[tuple[str, str, str]] = []
        if pairs is not None:
            items = pairs.items() if isinstance(pairs, Mapping) else pairs
            for name, value in items:
                self.add(name, value)

    def _fold(self, name: str) -> str:
        return name

    # -- reading ---------------------------------------------------------------------

    def __getitem__(self, name: str) -> str:
        folded = self._fold(name)
        for key, _, value in self._pairs:
            if key == folded:
                return value
        raise KeyError(name)

    @overload
    def get(self, name: str, /) -> str | None: ...
    @overload
    def get(self, name: str, /, default: str | _T) -> str | _T: ...
    def get(self, name: str, /, default: object = None) -> object:
        """The first value of *name*, or *default*."""
        folded = self._fold(name)
        for key, _, value in self._pairs:
            if key == folded:
                return value
        return default

    def getall(self, name: str) -> list[str]:
        """Every value of *name*, in order (an empty list when there is none)."""
        folded = self._fold(name)
        return [value for key, _, value in self._pairs if key == folded]

    def __contains__(self, name: object) -> bool:
        if not isinstance(name, str):
            return False
        folded = self._fold(name)
        for key, _, _ in self._pairs:  # noqa: SIM110 (any() over a generator costs ~2x)
            if key == folded:
                return True
        return False

    def __iter__(self) -> Iterator[str]:
        """Each distinct name once, as first given, in order."""
        seen = set()
        for key, name, _ in self._pairs:
            if key not in seen:
                seen.add(key)
                yield name

    def __len__(self) -> int:
        """The number of distinct names (``len(list(d.allitems()))`` counts pairs)."""
        return len({key for key, _, _ in self._pairs})

    def allitems(self) -> list[tuple[str, str]]:
        """Every ``(name, value)`` pair, repeated names included, in order."""
        return [(name, value) for _, name, value in self._pairs]

    def to_dict(self) -> dict[str, str | list[str]]:
        """A plain dict: one value as a ``str``, repeated ones as a list."""
        result: dict[str, str | list[str]] = {}
        for name in self:
            values = self.getall(name)
            result[name] = values[0] if len(values) == 1 else values
        return result

    # -- writing ---------------------------------------------------------------------

    def add(self, name: str, value: str) -> None:
        """Append one more value for *name*, keeping the others."""
        self._pairs.append((self._fold(name), name, value))

    def __setitem__(self, name: str, value: str) -> None:
        """Replace every value of *name* with *value* (in the first one's place)."""
        folded = self._fold(name)
        pairs = self._pairs
        if not pairs:  # the usual first field of a response: nothing to replace
            pairs.append((folded, name, value))
            return
        for index, (key, _, _) in enumerate(pairs):
            if key == folded:
                pairs[index] = (folded, name, value)
                self._pairs = pairs[: index + 1] + [
                    p for p in pairs[index + 1 :] if p[0] != folded
                ]
                return
        pairs.append((folded, name, value))

    def setdefault(self, name: str, default: str = "") -> str:
        value = self.get(name)
        if value is None:
            self.add(name, default)
            return default
        return value

    def __delitem__(self, name: str) -> None:
        folded = self._fold(name)
        kept = [pair for pair in self._pairs if pair[0] != folded]
        if len(kept) == len(self._pairs):
            raise KeyError(name)
        self._pairs = kept

    def clear(self) -> None:
        self._pairs.clear()

    def copy(self) -> MultiDict:
        new = type(self)()
        new._pairs = list(self._pairs)
        return new

    def __eq__(self, other: object) -> bool:
        if isinstance(other, MultiDict):
            return type(self) is type(other) and [(k, v) for k, _, v in self._pairs] == [
                (k, v) for k, _, v in other._pairs
            ]
        if isinstance(other, Mapping):
            return dict(self.items()) == dict(other.items())
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.allitems()!r})"


class Headers(MultiDict):
    """Header fields: a :class:`MultiDict` whose names are case-insensitive.

    Names keep the spelling they were given for output; ``headers["content-type"]``
    and ``headers["Content-Type"]`` are the same field.
    """

    __slots__ = ()

    def _fold(self, name: str) -> str:
        return name.lower()

    def __setitem__(self, name: str, value: str) -> None:
        """Replace every value of *name* with *value* (in the first one's place)."""
        pairs = self._pairs
        if not pairs:  # a response's first field, the usual case: no call to _fold
            pairs.append((name.lower(), name, value))
            return
        MultiDict.__setitem__(self, name, value)

    @classmethod
    def _from_received(cls, raw: list[tuple[bytes, bytes]]) -> Headers:
        """Wrap the protocol's lower-cased byte pairs (decoded as Latin-1)."""
        headers = cls()
        pairs = headers._pairs
        for name, value in raw:
            text = name.decode("latin-1")
            pairs.append((text, text, value.decode("latin-1")))
        return headers
