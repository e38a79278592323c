"""Hypothesis strategies for property-testing protocols without sockets.

The property every byte-stream parser must have: feeding the same bytes split in
any way gives the same result. :func:`splits` draws those ways. Needs hypothesis
(``pip install 'relays[testing]'``).
"""

from __future__ import annotations

import itertools

from hypothesis import strategies as st

__all__ = ["byte_at_a_time", "splits", "with_trailing"]


def splits(data: bytes, max_pieces: int | None = None) -> st.SearchStrategy[list[bytes]]:
    """*data* cut at arbitrary points into non-empty pieces that join back to *data*."""
    if not data:
        return st.just([])
    limit = len(data) - 1 if max_pieces is None else min(len(data), max_pieces) - 1
    cuts = st.lists(
        st.integers(min_value=1, max_value=len(data) - 1),
        unique=True,
        max_size=max(0, limit),
    ).map(sorted)

    def cut(points: list[int]) -> list[bytes]:
        bounds = [0, *points, len(data)]
        return [data[start:end] for start, end in itertools.pairwise(bounds)]

    return cuts.map(cut) if len(data) > 1 else st.just([data])


def byte_at_a_time(data: bytes) -> list[bytes]:
    """The most hostile split: one byte per piece."""
    return [data[i : i + 1] for i in range(len(data))]


def with_trailing(
    data: bytes, trailing: st.SearchStrategy[bytes] | None = None
) -> st.SearchStrategy[tuple[bytes, bytes]]:
    """``(data + extra, extra)``: a message followed by bytes that belong to the next one."""
    extra = trailing if trailing is not None else st.binary(max_size=64)
    return extra.map(lambda tail: (data + tail, tail))
