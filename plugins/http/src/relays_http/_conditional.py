"""Conditional requests for pages, automatic ETags, and caching headers.

Theory of operation
-------------------
A page that sets ``ETag`` or ``Last-Modified`` on its answer has said which
version of the resource it sends; a client that holds a copy asks with
``If-None-Match``/``If-Modified-Since`` whether it is still good, and one that
updates with ``If-Match``/``If-Unmodified-Since`` that nobody changed it meanwhile.
:func:`evaluate_preconditions` answers them in RFC 9110 13.2.2's order:

1. ``If-Match``: none of its tags matches the current one (strong comparison:
   a weak tag never matches), or ``*`` with no current tag: 412.
2. Otherwise ``If-Unmodified-Since`` (a valid date, and the page gave
   ``Last-Modified``): modified after it: 412.
3. ``If-None-Match``: one of its tags matches (weak comparison), or ``*``: 304
   for ``GET``/``HEAD``, 412 for other methods.
4. Otherwise, for ``GET``/``HEAD``, ``If-Modified-Since``: not modified since:
   304.

:class:`ConditionalGet` applies this to the answers of ``GET`` and ``HEAD``
requests, after the page ran, in ``before_response`` at
:data:`CONDITIONAL_PRIORITY` (before :class:`~relays_http.Compression`, so a 304
costs no compression and an automatic ETag is the plain body's). Only 2xx answers
are looked at. With ``autotags=True`` a ``200`` body known in full that has no
``ETag`` gets one made from its bytes (as CherryPy's ``autotags``): the page still
runs, but the client is spared the body. A method that changes state (``PUT``,
``DELETE``...) must check *before* it acts, so its handler calls
:func:`check_preconditions` itself.

:func:`expires` and :func:`cache_control` set the caching fields of a response
in one call, with the checks a hand-written field would lack.
"""

from __future__ import annotations

import datetime
import email.utils
import hashlib
import json
from collections.abc import Sequence
from typing import Any

from relays import BaseComponent, Priority, handler

from ._errors import HTTPError
from ._request import Request
from ._response import Response

__all__ = [
    "CONDITIONAL_PRIORITY",
    "ConditionalGet",
    "cache_control",
    "check_preconditions",
    "conditional_response",
    "evaluate_preconditions",
    "expires",
    "http_date",
    "make_etag",
    "parse_etags",
]

#: The ``before_response`` priority of :class:`ConditionalGet`: after the application's
#: handlers, before :data:`~relays_http.COMPRESSION_PRIORITY`.
CONDITIONAL_PRIORITY = Priority.CLEANUP + 50
#: Most entity tags of one ``If-Match``/``If-None-Match`` field that are compared.
MAX_ETAGS = 64
NOT_MODIFIED = 304
PRECONDITION_FAILED = 412
# The fields a 304 keeps (RFC 9110 15.4.5); the others describe a body it has not.
# Content-Type too: see conditional_response.
_KEPT_ON_304 = frozenset(
    {
        "cache-control",
        "content-location",
        "content-type",
        "date",
        "etag",
        "expires",
        "vary",
        "last-modified",
    }
)


def http_date(when: datetime.datetime | float) -> str:
    """*when* (an aware datetime, or seconds since the epoch) as an HTTP-date."""
    if isinstance(when, datetime.datetime):
        if when.tzinfo is None:
            raise ValueError("give an aware datetime (tzinfo=datetime.UTC), not a naive one")
        when = when.timestamp()
    return email.utils.formatdate(when, usegmt=True)


def _parse_date(value: str | None) -> float | None:
    if not value:
        return None
    try:
        parsed = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=datetime.UTC)
    return parsed.timestamp()


def parse_etags(field: str) -> list[tuple[bool, str]] | None:
    """The entity tags of an ``If-Match``/``If-None-Match`` *field*, as ``(weak,
    opaque tag)`` pairs; None for ``*``. Elements that are not entity tags are
    skipped; never raises."""
    field = field.strip()
    if field == "*":
        return None
    tags: list[tuple[bool, str]] = []
    position = 0
    length = len(field)
    while position < length and len(tags) < MAX_ETAGS:
        while position < length and field[position] in " \t,":
            position += 1
        weak = field.startswith("W/", position)
        if weak:
            position += 2
        if position >= length:
            break
        if field[position] != '"':
            next_comma = field.find(",", position)
            position = length if next_comma < 0 else next_comma + 1
            continue
        end = field.find('"', position + 1)
        if end < 0:
            break
        tags.append((weak, field[position + 1 : end]))
        position = end + 1
    return tags


def _current_tag(etag: str | None) -> tuple[bool, str] | None:
    if etag is None:
        return None
    tags = parse_etags(etag)
    return tags[0] if tags else None


def evaluate_preconditions(
    request: Request,
    etag: str | None,
    last_modified: str | float | None,
    *,
    exists: bool = True,
) -> int | None:
    """304, 412 or None (go on) for *request*, given the current *etag* (a field value
    such as ``'"v2"'``), *last_modified* (an HTTP-date or seconds since the epoch) and
    whether the resource *exists* at all (``*`` matches any current representation).
    See the module's theory of operation for the order."""
    modified = _parse_date(last_modified) if isinstance(last_modified, str) else last_modified
    current = _current_tag(etag)
    safe = request.method in ("GET", "HEAD")
    if_match = request.header(b"if-match")
    if if_match is not None:
        tags = parse_etags(if_match.decode("latin-1"))
        if tags is None:
            if not exists:
                return PRECONDITION_FAILED
        elif current is None or current[0] or (False, current[1]) not in tags:
            return PRECONDITION_FAILED
    else:
        since = _parse_date(_text(request.header(b"if-unmodified-since")))
        if since is not None and modified is not None and int(modified) > since:
            return PRECONDITION_FAILED
    if_none_match = request.header(b"if-none-match")
    if if_none_match is not None:
        tags = parse_etags(if_none_match.decode("latin-1"))
        if (tags is None and exists) or (
            tags is not None and current is not None and any(t == current[1] for _, t in tags)
        ):
            return NOT_MODIFIED if safe else PRECONDITION_FAILED
        return None
    if safe and modified is not None:
        since = _parse_date(_text(request.header(b"if-modified-since")))
        if since is not None and int(modified) <= since:
            return NOT_MODIFIED
    return None


def _text(value: bytes | None) -> str | None:
    return None if value is None else value.decode("latin-1")


def check_preconditions(
    request: Request,
    *,
    etag: str | None = None,
    last_modified: str | float | None = None,
    exists: bool | None = None,
) -> None:
    """Raise the 412 (or, for ``GET``/``HEAD``, the 304) that *request*'s conditions
    call for, given the resource's current *etag* and *last_modified*, and whether it
    *exists* (None: it does when it has an *etag* or *last_modified*).

    Call it in a handler before it changes anything (``PUT``, ``DELETE``, a form
    ``POST``): a client that sent ``If-Match`` with the tag it read gets a 412
    instead of overwriting somebody else's change.
    """
    if exists is None:
        exists = etag is not None or last_modified is not None
    outcome = evaluate_preconditions(request, etag, last_modified, exists=exists)
    if outcome is None:
        return
    headers = {"ETag": etag} if etag is not None else {}
    if outcome == NOT_MODIFIED:
        raise HTTPError(NOT_MODIFIED, "", headers=headers)
    raise HTTPError(
        PRECONDITION_FAILED, "the resource changed since you last read it", headers=headers
    )


def make_etag(data: bytes) -> str:
    """A strong entity tag for the bytes *data* (a hash of them)."""
    return '"' + hashlib.blake2b(data, digest_size=16).hexdigest() + '"'


def _body_bytes(body: Any) -> bytes | None:
    if isinstance(body, str):
        return body.encode("utf-8")
    if isinstance(body, bytes | bytearray | memoryview):
        return bytes(body)
    if isinstance(body, dict | list):
        return json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    return None


def _default_type(body: Any) -> str | None:
    if isinstance(body, str):
        return "text/html; charset=utf-8"
    if isinstance(body, dict | list):
        return "application/json"
    if isinstance(body, bytes | bytearray | memoryview):
        return "application/octet-stream"
    return None


def conditional_response(request: Request, response: Response, *, autotags: bool = False) -> bool:
    """Turn *response* into the 304 or 412 that *request*'s conditions call for; True
    if it did. Only ``GET`` and ``HEAD`` answers with a 2xx status are looked at.
    *autotags* gives a ``200`` body known in full an ``ETag`` made from it first."""
    if request.method not in ("GET", "HEAD") or not 200 <= response.status < 300:
        return False
    headers = response.headers
    etag = headers.get("etag")
    if etag is None and autotags and response.status == 200:
        data = _body_bytes(response.body)
        if data is not None:
            etag = make_etag(data)
            headers["etag"] = etag
    last_modified = headers.get("last-modified")
    if etag is None and last_modified is None:
        return False
    if (
        request.header(b"if-match") is None
        and request.header(b"if-none-match") is None
        and request.header(b"if-modified-since") is None
        and request.header(b"if-unmodified-since") is None
    ):
        return False
    outcome = evaluate_preconditions(request, etag, last_modified)
    if outcome is None:
        return False
    if outcome == NOT_MODIFIED:
        # A cache updates its stored fields from a 304's (RFC 9111 4.3.4): it must say
        # the type the full body has, not the server's default for an empty one.
        if "content-type" not in headers:
            default_type = _default_type(response.body)
            if default_type is not None:
                headers["content-type"] = default_type
        response.body = None
        response.status = NOT_MODIFIED
        for name in list(headers):
            if name.lower() not in _KEPT_ON_304:
                del headers[name]
    else:
        response.status = PRECONDITION_FAILED
        response.body = "the resource changed since you last read it"
        headers["content-type"] = "text/plain; charset=utf-8"
        if "content-length" in headers:
            del headers["content-length"]
    return True


class ConditionalGet(BaseComponent):
    """Answer ``GET``/``HEAD`` requests with 304 (or 412) when the page's ``ETag`` or
    ``Last-Modified`` says the client's copy is current (see the module's theory).

    *autotags* makes an ``ETag`` for every ``200`` body known in full that has none;
    *exclude* lists path prefixes left alone.
    """

    channel = "web"

    def __init__(
        self, *, autotags: bool = False, exclude: Sequence[str] = (), channel: Any = "web"
    ) -> None:
        super().__init__(channel=channel)
        self.autotags = autotags
        self.exclude = tuple(exclude)

    @handler("before_response", priority=CONDITIONAL_PRIORITY)
    def _on_before_response(self, request: Request, response: Response, result: Any) -> Any:
        if isinstance(result, BaseException) or result is None:
            return None
        if request.method not in ("GET", "HEAD"):
            return None
        if self.exclude and request.path.startswith(self.exclude):
            return None
        if isinstance(result, Response):
            conditional_response(request, result, autotags=self.autotags)
            return None  # changed in place
        # The answer goes into the server's own response, which is returned when it
        # changed: the handlers after this one (Compression, a session's cookie) see it
        # there, with a body that is not None (the 304 keeps an empty one).
        response.body = result
        if conditional_response(request, response, autotags=self.autotags):
            if response.body is None:
                response.body = b""
            return response
        response.body = None
        return None


def expires(
    response: Response,
    when: datetime.datetime | datetime.timedelta | float,
    *,
    now: datetime.datetime | None = None,
) -> None:
    """Say *response* stays fresh until *when*: an aware datetime, a timedelta or
    seconds from now (0 or less: already stale). Sets both ``Expires`` and
    ``Cache-Control: max-age`` (which HTTP/1.1 caches prefer), keeping the other
    ``Cache-Control`` directives."""
    current = now or datetime.datetime.now(datetime.UTC)
    if isinstance(when, datetime.datetime):
        if when.tzinfo is None:
            raise ValueError("give an aware datetime (tzinfo=datetime.UTC), not a naive one")
        seconds = (when - current).total_seconds()
    elif isinstance(when, datetime.timedelta):
        seconds = when.total_seconds()
    else:
        seconds = float(when)
    seconds = max(0, int(seconds))
    response.headers["expires"] = http_date(current.timestamp() + seconds)
    _merge_cache_control(response, {"max-age": str(seconds)})


def cache_control(
    response: Response,
    *,
    max_age: int | None = None,
    s_maxage: int | None = None,
    public: bool = False,
    private: bool = False,
    no_cache: bool = False,
    no_store: bool = False,
    no_transform: bool = False,
    must_revalidate: bool = False,
    immutable: bool = False,
    stale_while_revalidate: int | None = None,
) -> str:
    """Set *response*'s ``Cache-Control`` from the directives given (RFC 9111 5.2.2);
    returns the field's value. ``public`` and ``private`` together are refused."""
    if public and private:
        raise ValueError("a response is either public or private, not both")
    directives: dict[str, str | None] = {}
    for name, flag in (
        ("public", public),
        ("private", private),
        ("no-cache", no_cache),
        ("no-store", no_store),
        ("no-transform", no_transform),
        ("must-revalidate", must_revalidate),
        ("immutable", immutable),
    ):
        if flag:
            directives[name] = None
    for name, seconds in (
        ("max-age", max_age),
        ("s-maxage", s_maxage),
        ("stale-while-revalidate", stale_while_revalidate),
    ):
        if seconds is not None:
            if type(seconds) is not int or seconds < 0:
                raise ValueError(f"{name} is a number of seconds >= 0, not {seconds!r}")
            directives[name] = str(seconds)
    value = ", ".join(name if v is None else f"{name}={v}" for name, v in directives.items())
    if not value:
        raise ValueError("give at least one directive")
    response.headers["cache-control"] = value
    return value


def _merge_cache_control(response: Response, updates: dict[str, str]) -> None:
    existing = response.headers.get("cache-control") or ""
    kept = [
        part.strip()
        for part in existing.split(",")
        if part.strip() and part.strip().partition("=")[0].lower() not in updates
    ]
    kept += [f"{name}={value}" for name, value in updates.items()]
    response.headers["cache-control"] = ", ".join(kept)
