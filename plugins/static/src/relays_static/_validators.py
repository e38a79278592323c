"""Validators (``ETag``, ``Last-Modified``) and conditional requests, RFC 9110 13.

Theory of operation
-------------------
A file's entity tag is made from its modification time (nanoseconds) and size,
plus the content coding of a pre-compressed variant, so ``app.js`` and
``app.js.br`` never share a tag. It is sent as a *strong* tag: a file rewritten
in place gets a new mtime, and two different contents with the same
nanosecond mtime and size are not a case a static server can do better on
(nginx makes the same choice).

The preconditions are evaluated in the order of RFC 9110 13.2.2:

1. ``If-Match`` (strong comparison) false: 412;
2. else ``If-Unmodified-Since`` (only when it is a valid date) false: 412;
3. ``If-None-Match`` (weak comparison) false: 304 for GET and HEAD, else 412;
4. else ``If-Modified-Since`` (GET and HEAD, valid date) false: 304;
5. ``If-Range`` is for :mod:`relays_static._ranges`.

A field that does not parse is never an error: an unparsable entity-tag list
matches nothing, an invalid date is ignored, as the RFC asks.
"""

from __future__ import annotations

import datetime
import re
from email.utils import formatdate, parsedate_to_datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import os

    from relays_http import Request

__all__ = [
    "NOT_MODIFIED",
    "PRECONDITION_FAILED",
    "evaluate_preconditions",
    "http_date",
    "if_range_allows",
    "make_etag",
    "parse_etags",
    "parse_http_date",
]

NOT_MODIFIED = 304
PRECONDITION_FAILED = 412

# One entity-tag of a list: optional weak prefix, then a quoted opaque string.
_ETAG = re.compile(r'\s*(W/)?("[\x21\x23-\x7e\x80-\xff]*")\s*(?:,|$)')


def make_etag(stat: os.stat_result, coding: str = "") -> str:
    """The strong entity tag of a file (of its variant in content coding *coding*)."""
    suffix = f"-{coding}" if coding else ""
    return f'"{stat.st_mtime_ns:x}-{stat.st_size:x}{suffix}"'


_dates: dict[int, str] = {}


def http_date(timestamp: float) -> str:
    """An IMF-fixdate (``Sun, 06 Nov 1994 08:49:37 GMT``), to the second.

    Remembered for a few hundred distinct times: a site's files share few mtimes,
    and formatting one costs more than the rest of a validator.
    """
    seconds = int(timestamp)
    text = _dates.get(seconds)
    if text is None:
        if len(_dates) >= 512:
            _dates.clear()
        text = _dates[seconds] = formatdate(seconds, usegmt=True)
    return text


def parse_http_date(value: str) -> int | None:
    """Seconds since the epoch of an HTTP date (any of the three forms), or None."""
    try:
        parsed = parsedate_to_datetime(value.strip())
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if parsed.tzinfo is None:  # asctime form: HTTP dates are always GMT
        parsed = parsed.replace(tzinfo=datetime.UTC)
    try:
        return int(parsed.timestamp())
    except (OverflowError, OSError, ValueError):
        return None


def parse_etags(value: str) -> list[tuple[bool, str]] | None:
    """``[(weak, opaque tag with quotes), ...]`` of a list, ``[]`` for ``*``... or None.

    Returns None when *value* is ``*``, and an empty list when nothing parses
    (which then matches no tag).
    """
    value = value.strip()
    if value == "*":
        return None
    tags = []
    position = 0
    while position < len(value):
        match = _ETAG.match(value, position)
        if match is None or match.end() == position:
            return []
        tags.append((match.group(1) is not None, match.group(2)))
        position = match.end()
    return tags


def _field(request: Request, name: bytes) -> str | None:
    """All values of a list field joined by commas, or None when absent."""
    first = request.header(name)
    if first is None:
        return None
    values = request.headers.getall(name.decode("ascii"))
    return ", ".join(values) if len(values) > 1 else first.decode("latin-1")


def _strong_match(value: str, etag: str) -> bool:
    tags = parse_etags(value)
    if tags is None:
        return True
    return any(not weak and tag == etag for weak, tag in tags)


def _weak_match(value: str, etag: str) -> bool:
    tags = parse_etags(value)
    if tags is None:
        return True
    opaque = etag[2:] if etag.startswith("W/") else etag
    return any(tag == opaque for _, tag in tags)


def evaluate_preconditions(request: Request, etag: str, modified: int) -> int | None:
    """304, 412 or None (go on) for *request* on a representation with these validators.

    *modified* is the ``Last-Modified`` time in whole seconds.
    """
    if_match = _field(request, b"if-match")
    if if_match is not None:
        if not _strong_match(if_match, etag):
            return PRECONDITION_FAILED
    else:
        since = request.header(b"if-unmodified-since")
        if since is not None:
            date = parse_http_date(since.decode("latin-1"))
            if date is not None and modified > date:
                return PRECONDITION_FAILED
    safe = request.method in ("GET", "HEAD")
    if_none_match = _field(request, b"if-none-match")
    if if_none_match is not None:
        if _weak_match(if_none_match, etag):
            return NOT_MODIFIED if safe else PRECONDITION_FAILED
    elif safe:
        since = request.header(b"if-modified-since")
        if since is not None:
            date = parse_http_date(since.decode("latin-1"))
            if date is not None and modified <= date:
                return NOT_MODIFIED
    return None


def if_range_allows(request: Request, etag: str, modified: int) -> bool:
    """Whether a ``Range`` may be honoured: no ``If-Range``, or one that matches.

    An entity tag must match strongly; a date must equal ``Last-Modified``
    exactly (RFC 9110 13.1.5).
    """
    raw = request.header(b"if-range")
    if raw is None:
        return True
    value = raw.decode("latin-1").strip()
    if value.startswith('"') or value.startswith("W/"):
        return value == etag  # a weak tag never equals our strong one
    date = parse_http_date(value)
    return date is not None and date == modified
