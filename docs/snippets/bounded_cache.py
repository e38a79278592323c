"""A plugin's own hot-path memory, bounded: relays.BoundedCache."""

from __future__ import annotations

import unicodedata

from relays import BoundedCache

#: Distinct names whose normalised form is remembered (a client chooses the names).
NAME_CACHE_SIZE = 2

_normalised: BoundedCache[str, str] = BoundedCache(NAME_CACHE_SIZE, "normalised names")


def normalised(name: str) -> str:
    """*name* in NFKC and lower case, worked out once per distinct name."""
    known = _normalised.get(name)
    if known is None:
        known = _normalised.remember(name, unicodedata.normalize("NFKC", name).lower())
    return known


wide = "\N{FULLWIDTH LATIN CAPITAL LETTER F}oo"  # "Foo" as some keyboards type it
print(normalised(wide), normalised("Bar"), normalised(wide))
print(_normalised)
normalised("baz")  # a third name: the cache is emptied, then remembers it
print(_normalised, "baz" in _normalised)
