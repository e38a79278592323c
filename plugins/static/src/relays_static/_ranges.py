"""Byte ranges (RFC 9110 14): parsing ``Range`` and framing ``multipart/byteranges``.

Theory of operation
-------------------
:func:`parse_range` turns ``bytes=0-99,200-,-500`` into inclusive ``(first,
last)`` pairs clipped to the representation's size. What it cannot use it says
apart, because the answers differ:

* a field that is not a valid ``bytes`` range set is *ignored* (None): the whole
  file is sent with 200, which RFC 9110 14.2 allows and every client copes with;
* so is one with more than ``max_ranges`` ranges, nginx's defence against a
  request asking for the same bytes a thousand times;
* a valid set none of whose ranges is satisfiable is :class:`Unsatisfiable`
  (416 with ``Content-Range: bytes */size``).

Overlapping or adjacent ranges are coalesced (sorted, then merged), which RFC
9110 14.3 permits: the body is then never larger than the file, however the
ranges were chosen. One range left gives a plain 206 with ``Content-Range``;
several give a ``multipart/byteranges`` body whose length is computed up front
(:func:`multipart_layout`) so it is sent with a ``Content-Length``.
"""

from __future__ import annotations

import secrets

__all__ = ["Unsatisfiable", "multipart_layout", "parse_range"]

_DIGITS = frozenset("0123456789")


class Unsatisfiable(ValueError):
    """A valid ``Range`` none of whose ranges overlaps the representation (416)."""


def _number(text: str) -> int | None:
    text = text.strip(" \t")
    if not text or not _DIGITS.issuperset(text) or len(text) > 19:
        return None
    return int(text)


def parse_range(value: str, size: int, max_ranges: int) -> list[tuple[int, int]] | None:
    """Satisfiable ``(first, last)`` byte positions (inclusive), sorted and merged.

    None means "ignore the field, send everything"; raises :class:`Unsatisfiable`
    for a valid range set of which nothing can be sent.
    """
    unit, equals, specs = value.partition("=")
    if not equals or unit.strip(" \t").lower() != "bytes":
        return None
    items = [item for item in specs.split(",") if item.strip(" \t")]
    if not items or len(items) > max_ranges:
        return None
    ranges = []
    for item in items:
        first_text, dash, last_text = item.partition("-")
        if not dash:
            return None
        if not first_text.strip(" \t"):  # suffix range: the last N bytes
            length = _number(last_text)
            if length is None:
                return None
            if length > 0 and size > 0:
                ranges.append((max(size - length, 0), size - 1))
            continue
        first = _number(first_text)
        if first is None:
            return None
        if last_text.strip(" \t"):
            last = _number(last_text)
            if last is None or last < first:
                return None
        else:
            last = size - 1
        if first < size:
            ranges.append((first, min(last, size - 1)))
    if not ranges:
        raise Unsatisfiable(f"no range of {value!r} is within {size} bytes")
    ranges.sort()
    merged = [ranges[0]]
    for first, last in ranges[1:]:
        previous_first, previous_last = merged[-1]
        if first <= previous_last + 1:
            merged[-1] = (previous_first, max(previous_last, last))
        else:
            merged.append((first, last))
    return merged


def multipart_layout(
    ranges: list[tuple[int, int]], size: int, content_type: str
) -> tuple[str, list[bytes], bytes, int]:
    """``(boundary, part heads, closing delimiter, total length)`` of a byteranges body.

    Part *i* on the wire is ``heads[i]`` then the bytes of ``ranges[i]``; the body
    ends with the closing delimiter.
    """
    boundary = secrets.token_hex(16)
    heads = [
        (
            f"\r\n--{boundary}\r\nContent-Type: {content_type}\r\n"
            f"Content-Range: bytes {first}-{last}/{size}\r\n\r\n"
        ).encode("latin-1")
        for first, last in ranges
    ]
    closing = f"\r\n--{boundary}--\r\n".encode("latin-1")
    total = sum(len(head) for head in heads) + len(closing)
    total += sum(last - first + 1 for first, last in ranges)
    return boundary, heads, closing, total
