"""Turning response events into bytes: the head, the three body framings, errors.

The application says *what* to send; this module decides *how it is framed*
(RFC 9112 6.3, from the server's side):

* 1xx, 204 and 304 responses, and any response to HEAD, carry no body bytes;
* a ``Content-Length`` given by the application is honoured, and enforced;
* otherwise HTTP/1.1 clients get ``Transfer-Encoding: chunked``;
* otherwise (HTTP/1.0 clients) the body ends when the connection closes.

Application ``Transfer-Encoding`` and ``Connection`` fields are not copied: the
first is implied by the rules above, the second is written by us from the
keep-alive decision, so the two can never contradict each other on the wire.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Protocol

from relays import BoundedCache

from ._errors import LocalProtocolError
from ._events import HeadersInput, InformationalResponse, Response
from ._headers import (
    FIELD_NAME_CACHE_SIZE,
    FRAMING_TRAILERS,
    SENT_NAME_CACHE,
    TO_CR,
    check_sent_bytes,
    check_sent_name,
    split_tokens,
    to_bytes,
)

__all__ = [
    "SENT_IN_FULL",
    "BodyWriter",
    "build_informational_head",
    "build_response_head",
    "build_switching_head",
    "continue_head",
    "render_error_response",
    "render_response_head",
]

_STATUS_LINES = {
    status.value: b"HTTP/1.1 %d %s\r\n" % (status.value, status.phrase.encode("ascii"))
    for status in HTTPStatus
}
_CONTINUE = _STATUS_LINES[100] + b"\r\n"
#: The status lines a final response may have (the usual ones: others are rendered).
_FINAL_STATUS_LINES = {code: line for code, line in _STATUS_LINES.items() if code >= 200}
#: Response fields the framing rules decide on; the application's are checked.
_FRAMING_FIELDS = frozenset({b"content-length", b"transfer-encoding", b"connection"})
#: Checked ``str`` header names -> (Latin-1 bytes, lower-cased bytes).
_STR_NAMES: BoundedCache[str, tuple[bytes, bytes]] = BoundedCache(
    FIELD_NAME_CACHE_SIZE, "sent field names (str)"
)
#: Distinct ``rendered_fields`` values remembered: the server's Date line makes a new
#: one each second, so a few are live at a time.
RENDERED_FIELDS_CACHE_SIZE = 16
#: Checked ``rendered_fields`` values -> their number of lines.
_RENDERED_FIELDS: BoundedCache[bytes, int] = BoundedCache(
    RENDERED_FIELDS_CACHE_SIZE, "rendered field lines"
)
#: Distinct short field values remembered as clean (see :data:`_CLEAN_VALUES`).
CLEAN_VALUE_CACHE_SIZE = 1024
#: Longest value remembered as clean, in bytes: the usual content types, cache and
#: cookie attributes fit; a long one is checked with the head, as any unknown value.
CLEAN_VALUE_MAX_LENGTH = 128
#: Field values (``str`` or ``bytes``, as the application gave them) known to hold no CR,
#: LF or control character -> their bytes: a response whose values are all here needs no
#: check of its whole head for header injection.
_CLEAN_VALUES: BoundedCache[str | bytes, bytes] = BoundedCache(
    CLEAN_VALUE_CACHE_SIZE, "clean field values"
)
#: Distinct body lengths whose ``content-length`` line is remembered.
LENGTH_LINE_CACHE_SIZE = 1024
#: Body lengths -> their ``content-length`` lines.
_LENGTH_LINES: BoundedCache[int, bytes] = BoundedCache(
    LENGTH_LINE_CACHE_SIZE, "content-length lines"
)
# The caches' lookups, bound once. ``_CACHE.get(key)`` loads ``get`` as a method,
# which CPython 3.11 cannot specialise for an attribute that holds a bound method (about
# 190 instructions each time); a name bound to it is one global load (0.4% of a short
# connection). ``BoundedCache.get`` stays bound to its dict for the cache's life.
_known_str_name = _STR_NAMES.get
_rendered_line_count = _RENDERED_FIELDS.get
_clean_value = _CLEAN_VALUES.get
_known_length_line = _LENGTH_LINES.get


class BodyWriter(Protocol):
    """Frames one response body."""

    def write(self, data: bytes) -> bytes:
        """Return the bytes that carry ``data``."""

    def end(self, trailers: HeadersInput) -> bytes:
        """Return the bytes that end the body (and carry ``trailers``)."""

    def frame(self, count: int) -> tuple[bytes, bytes] | None:
        """Account for ``count`` body bytes the glue writes itself (a file region).

        Returns the bytes to write before and after them, or None when they must
        not be written at all (HEAD, or nothing to write).
        """


def _refuse_trailers(trailers: HeadersInput) -> None:
    if trailers:
        raise LocalProtocolError("trailers can only be sent with a chunked body")


class ContentLengthWriter:
    """Body of an announced length; too much or too little is the app's bug."""

    __slots__ = ("remaining",)

    def __init__(self, length: int) -> None:
        self.remaining = length

    def write(self, data: bytes) -> bytes:
        """Pass ``data`` through, refusing to exceed the Content-Length."""
        if len(data) > self.remaining:
            raise LocalProtocolError("more body data than the declared Content-Length")
        self.remaining -= len(data)
        return data

    def frame(self, count: int) -> tuple[bytes, bytes] | None:
        """Count ``count`` bytes against the Content-Length; no framing bytes."""
        if count > self.remaining:
            raise LocalProtocolError("more body data than the declared Content-Length")
        self.remaining -= count
        return (b"", b"") if count else None

    def end(self, trailers: HeadersInput) -> bytes:
        """Check that exactly Content-Length bytes were sent."""
        if self.remaining:
            raise LocalProtocolError("less body data than the declared Content-Length")
        _refuse_trailers(trailers)
        return b""


#: The writer of a body that goes out in full with its head (see
#: :meth:`Connection.send_whole`): nothing is left to write, so the one shared
#: instance, whose count stays 0, serves every such response.
SENT_IN_FULL = ContentLengthWriter(0)


class ChunkedWriter:
    """Chunked body; empty data is skipped since a zero-size chunk ends the body."""

    __slots__ = ()

    def write(self, data: bytes) -> bytes:
        """Wrap ``data`` into one chunk."""
        if not data:
            return b""
        return b"%x\r\n%b\r\n" % (len(data), data)

    def frame(self, count: int) -> tuple[bytes, bytes] | None:
        """The size line and the CRLF around one chunk of ``count`` bytes."""
        if not count:
            return None
        return b"%x\r\n" % count, b"\r\n"

    def end(self, trailers: HeadersInput) -> bytes:
        """Write the last chunk and the trailer section."""
        if not trailers:
            return b"0\r\n\r\n"
        parts = [b"0\r\n"]
        for raw_name, raw_value in trailers:
            name, value = to_bytes(raw_name), to_bytes(raw_value)
            if check_sent_name(name) in FRAMING_TRAILERS:
                raise LocalProtocolError(f"{name!r} is not allowed in a trailer section")
            parts += (name, b": ", value, b"\r\n")
        parts.append(b"\r\n")
        section = b"".join(parts)
        check_sent_bytes(section, len(trailers) + 2)
        return section


class CloseDelimitedWriter:
    """HTTP/1.0 body without a length: it ends when we close the connection."""

    __slots__ = ()

    def write(self, data: bytes) -> bytes:
        """Pass ``data`` through."""
        return data

    def frame(self, count: int) -> tuple[bytes, bytes] | None:
        """No framing: the bytes go as they are."""
        return (b"", b"") if count else None

    def end(self, trailers: HeadersInput) -> bytes:
        """Nothing to write: closing the connection ends the body."""
        _refuse_trailers(trailers)
        return b""


class NoBodyWriter:
    """No body on the wire: HEAD (data silently dropped) or 204/304 (data refused)."""

    __slots__ = ("discard",)

    def __init__(self, discard: bool) -> None:
        self.discard = discard

    def write(self, data: bytes) -> bytes:
        """Drop ``data`` for HEAD; refuse it for a bodiless status."""
        if data and not self.discard:
            raise LocalProtocolError("a 204 or 304 response cannot have a body")
        return b""

    def frame(self, count: int) -> tuple[bytes, bytes] | None:
        """Nothing goes on the wire; as :meth:`write`, a bodiless status refuses bytes."""
        if count and not self.discard:
            raise LocalProtocolError("a 204 or 304 response cannot have a body")
        return None

    def end(self, trailers: HeadersInput) -> bytes:
        """Nothing to write."""
        _refuse_trailers(trailers)
        return b""


def _status_line(status_code: object, reason: bytes, lowest: int, highest: int) -> bytes:
    if type(status_code) is not int or not lowest <= status_code <= highest:
        raise LocalProtocolError(f"status code must be an int in [{lowest}, {highest}]")
    if not reason:
        line = _STATUS_LINES.get(status_code)
        if line is not None:
            return line
    return b"HTTP/1.1 %d %b\r\n" % (status_code, to_bytes(reason))


def build_response_head(
    response: Response,
    *,
    head_request: bool,
    http_11: bool,
    keep_alive: bool,
    body_length: int | None = None,
) -> tuple[bytes, BodyWriter, bool]:
    """Serialise a final response head; return ``(head, body writer, keep_alive)``.

    ``keep_alive`` comes in as the client's wish and goes out as the decision,
    which a ``Connection: close`` from the application or a close-delimited
    body turns off. ``body_length`` is the length of a body known in full (see
    :meth:`Connection.send_whole`): it becomes the ``Content-Length`` unless the
    application gave one, which must then agree, and the writer is
    :data:`SENT_IN_FULL` unless no body goes on the wire. Nothing is changed if this
    raises.
    """
    return render_response_head(
        response.status_code,
        response.headers,
        response.reason,
        response.rendered_fields,
        head_request,
        http_11,
        keep_alive,
        body_length,
    )


def render_response_head(
    status: int,
    headers: HeadersInput,
    reason: bytes,
    rendered: bytes,
    head_request: bool,
    http_11: bool,
    keep_alive: bool,
    body_length: int | None,
) -> tuple[bytes, BodyWriter, bool]:
    """:func:`build_response_head` from a response's parts, for the whole-body path
    (:meth:`Connection.send_whole_parts`): no :class:`Response` to make, no keywords."""
    # The usual status line is a dict lookup; _status_line checks and renders the rest.
    line = _FINAL_STATUS_LINES.get(status) if type(status) is int and not reason else None
    parts = [line or _status_line(status, reason, 200, 999)]
    line_ends = 2  # the status line's and the empty line's
    if rendered:
        count = _rendered_line_count(rendered)
        line_ends += count if count is not None else _check_rendered_fields(rendered)
        parts.append(rendered)
    copied = 0
    # Whether a value not known to be clean (see _CLEAN_VALUES) went into the head, or a
    # reason phrase: then the whole head is checked for injected CR, LF and controls.
    unchecked = bool(reason)
    content_length: int | None = None
    known_str_name = _known_str_name
    checked_lower = SENT_NAME_CACHE.get
    clean_value = _clean_value
    for raw_name, raw_value in headers:
        if type(raw_name) is bytes:  # check_sent_name's cache, looked up in line
            name = raw_name
            checked = checked_lower(raw_name)
            lower = checked if checked is not None else check_sent_name(raw_name)
        elif type(raw_name) is str:
            known = known_str_name(raw_name)
            name, lower = known if known is not None else _new_str_name(raw_name)
        else:
            name = to_bytes(raw_name)
            lower = check_sent_name(name)
        value = clean_value(raw_value) if type(raw_value) in (str, bytes) else None
        if value is None:
            value = to_bytes(raw_value)
            if not _remember_clean(raw_value, value):
                unchecked = True
        if lower in _FRAMING_FIELDS:
            if lower == b"content-length":
                if not value.isdigit() or content_length is not None:
                    raise LocalProtocolError("Content-Length must be given once, as digits")
                content_length = int(value)
                if status == 204:
                    continue  # RFC 9110 8.6: never sent with 204; harmless to drop
            elif lower == b"transfer-encoding":
                if value.strip(b" \t").lower() != b"chunked":
                    raise LocalProtocolError("the only Transfer-Encoding you may send is chunked")
                continue
            else:  # connection
                if b"close" in split_tokens([value]):
                    keep_alive = False
                continue
        parts += (name, b": ", value, b"\r\n")
        copied += 1

    if status == 204 or status == 304:
        writer: BodyWriter = NoBodyWriter(discard=head_request)
    elif body_length is not None:
        if content_length is None:
            line = _known_length_line(body_length)
            if line is None:
                line = _length_line(body_length)
            parts.append(line)
            line_ends += 1
        elif content_length != body_length and not (head_request and body_length == 0):
            # (A response to HEAD may state the length GET would send: RFC 9110 9.3.2.)
            raise LocalProtocolError(
                f"Content-Length {content_length} does not match the {body_length}-byte body"
            )
        writer = SENT_IN_FULL
    elif content_length is not None:
        writer = ContentLengthWriter(content_length)
    elif http_11:
        parts.append(b"transfer-encoding: chunked\r\n")
        line_ends += 1
        writer = ChunkedWriter()
    else:
        keep_alive = False
        writer = CloseDelimitedWriter()
    if head_request:
        writer = NoBodyWriter(discard=True)

    if not keep_alive:
        parts.append(b"connection: close\r\n\r\n")
        line_ends += 1
    elif not http_11:
        parts.append(b"connection: keep-alive\r\n\r\n")
        line_ends += 1
    else:
        parts.append(b"\r\n")
    head = b"".join(parts)
    # Only a value or the reason phrase can carry a CR, LF or control character (header
    # injection): everything else is ours, a checked name, or checked rendered fields.
    # Values known clean were checked when first seen; with any other, we know how many
    # CRLFs we wrote, and any beyond them is refused. (check_sent_bytes, inlined.)
    if unchecked and head.translate(TO_CR).count(b"\r") != 2 * (line_ends + copied):
        check_sent_bytes(head, line_ends + copied)
    return head, writer, keep_alive


def _remember_clean(raw_value: object, value: bytes) -> bool:
    """Whether *value* (encoded from *raw_value*) holds no CR, LF or control character;
    a short clean one is remembered in :data:`_CLEAN_VALUES` (bounded)."""
    if value.translate(TO_CR).count(b"\r"):
        return False
    if len(value) <= CLEAN_VALUE_MAX_LENGTH and type(raw_value) in (str, bytes):
        _CLEAN_VALUES.remember(raw_value, value)  # type: ignore[arg-type]
    return True


def _length_line(length: int) -> bytes:
    """The ``Content-Length`` line for *length*, remembered for the next responses of
    that size (formatting it costs more than a dict lookup; bounded)."""
    return _LENGTH_LINES.remember(length, b"content-length: %d\r\n" % length)


def _new_str_name(name: str) -> tuple[bytes, bytes]:
    """Encode and check a ``str`` header name not seen before; remember it."""
    encoded = to_bytes(name)
    return _STR_NAMES.remember(name, (encoded, check_sent_name(encoded)))


def _check_rendered_fields(rendered: bytes) -> int:
    """Check pre-rendered field lines once per distinct value; return their count."""
    count = _RENDERED_FIELDS.get(rendered)
    if count is not None:
        return count
    if not rendered.endswith(b"\r\n"):
        raise LocalProtocolError("rendered_fields must be whole lines, each ending in CRLF")
    lines = rendered[:-2].split(b"\r\n")
    for line in lines:
        name, colon, _ = line.partition(b":")
        if not colon:
            raise LocalProtocolError(f"rendered field line without a colon: {line!r}")
        if check_sent_name(name) in _FRAMING_FIELDS:
            raise LocalProtocolError(f"{name!r} cannot be a rendered field: it is framing")
    check_sent_bytes(rendered, len(lines))
    return _RENDERED_FIELDS.remember(rendered, len(lines))


def build_informational_head(response: InformationalResponse) -> bytes:
    """Serialise a 1xx head; framing fields are refused since a 1xx has no body."""
    parts = [_status_line(response.status_code, response.reason, 100, 199)]
    if response.status_code == 101:
        raise LocalProtocolError(
            "a 101 Switching Protocols is sent with Connection.switch_protocols(), which "
            "checks that the client asked for the protocol"
        )
    for raw_name, raw_value in response.headers:
        name, value = to_bytes(raw_name), to_bytes(raw_value)
        if check_sent_name(name) in FRAMING_TRAILERS:
            raise LocalProtocolError(f"{name!r} is not allowed in a 1xx response")
        parts += (name, b": ", value, b"\r\n")
    parts.append(b"\r\n")
    head = b"".join(parts)
    check_sent_bytes(head, 2 + len(response.headers))
    return head


#: Fields of a 101 the switching step writes itself (the ones after it are the app's).
_SWITCHING_FIELDS = FRAMING_TRAILERS | {b"upgrade"}


def build_switching_head(protocol: bytes, headers: HeadersInput) -> bytes:
    """Serialise ``101 Switching Protocols`` to *protocol*, with the app's *headers*.

    ``Connection: Upgrade`` and ``Upgrade: <protocol>`` are written here; the app's
    fields may not repeat them, nor carry framing (a 101 has no body).
    """
    parts = [_STATUS_LINES[101], b"connection: Upgrade\r\nupgrade: ", protocol, b"\r\n"]
    for raw_name, raw_value in headers:
        name, value = to_bytes(raw_name), to_bytes(raw_value)
        if check_sent_name(name) in _SWITCHING_FIELDS:
            raise LocalProtocolError(f"{name!r} is not allowed in the fields of a 101 response")
        parts += (name, b": ", value, b"\r\n")
    parts.append(b"\r\n")
    head = b"".join(parts)
    check_sent_bytes(head, 4 + len(headers))
    return head


def continue_head() -> bytes:
    """Return ``HTTP/1.1 100 Continue`` with its empty header section."""
    return _CONTINUE


def render_error_response(status_code: int, reason: str, *, head_request: bool = False) -> bytes:
    """Render a complete, minimal error response that closes the connection.

    Meant for :class:`RemoteProtocolError` (``error.status_code``,
    ``error.reason``) and for the glue's own refusals (408 on a timeout, 503 at
    the connection limit). The body is the plain-text reason; ``nosniff`` keeps
    browsers from reading it as anything else.
    """
    body = reason.encode("utf-8") + b"\n"
    line = _STATUS_LINES.get(status_code) or b"HTTP/1.1 %d \r\n" % status_code
    return b"".join(
        (
            line,
            b"content-type: text/plain; charset=utf-8\r\n",
            b"x-content-type-options: nosniff\r\n",
            b"content-length: %d\r\n" % len(body),
            b"connection: close\r\n\r\n",
            b"" if head_request else body,
        )
    )
