"""Field (header and trailer) syntax: validation, parsing and the framing fields.

Speed notes. Validating every byte of a head in Python would dominate the cost
of a request, so the checks are arranged to run in C over whole buffers:

* :func:`check_head_bytes` finds bare CR, bare LF and control characters in a
  whole head with one ``bytes.translate`` and one ``bytes.count``;
* field names are validated once per distinct spelling and then remembered in a
  :class:`relays.BoundedCache` (a plain data structure: no I/O comes with it), so
  the common names cost one dict lookup each;
* values need no per-field check beyond stripping whitespace, because the whole
  head was already checked.
"""

from __future__ import annotations

import re

from relays import BoundedCache

from ._errors import LocalProtocolError, RemoteProtocolError
from ._events import Headers

__all__ = [
    "FIELD_NAME_CACHE_SIZE",
    "FRAMING_TRAILERS",
    "NAME_CACHE",
    "SENT_NAME_CACHE",
    "SPECIAL_REQUEST_FIELDS",
    "TO_CR",
    "check_head_bytes",
    "check_sent_bytes",
    "check_sent_name",
    "new_name",
    "parse_content_length",
    "parse_fields",
    "parse_transfer_coding_is_chunked",
    "split_tokens",
]

# tchar from RFC 9110 5.6.2.
TOKEN = re.compile(rb"[-!#$%&'*+.^_`|~0-9A-Za-z]+")

# Maps every byte that may never appear in a head (controls except HTAB, and
# DEL) to CR, and LF to CR too. In a valid head the only CR and LF bytes are
# the CRLF line ends, so the translated head holds exactly two CRs per line end;
# any other count means a bare CR, a bare LF or a control character.
_CONTROLS = bytes([*range(0x00, 0x09), *range(0x0A, 0x20), 0x7F])
TO_CR = bytes(0x0D if byte in _CONTROLS else byte for byte in range(256))

#: Distinct field-name spellings remembered as valid, per direction: a client's
#: requests and an application's responses use a few dozen; random names from a
#: hostile client only empty the cache now and then (see :class:`relays.BoundedCache`).
FIELD_NAME_CACHE_SIZE = 1024
#: Received field names known valid -> lower-cased.
NAME_CACHE: BoundedCache[bytes, bytes] = BoundedCache(
    FIELD_NAME_CACHE_SIZE, "received field names"
)
#: Sent field names (bytes) known valid -> lower-cased.
SENT_NAME_CACHE: BoundedCache[bytes, bytes] = BoundedCache(
    FIELD_NAME_CACHE_SIZE, "sent field names"
)

#: Request fields the connection must look at while parsing the head.
SPECIAL_REQUEST_FIELDS = frozenset(
    {
        b"content-length",
        b"transfer-encoding",
        b"connection",
        b"host",
        b"expect",
        b"upgrade",
        b"content-type",
    }
)
#: Fields that must not appear in a trailer section: a trailer must never be
#: able to change how the message was framed or routed (RFC 9110 6.5.1).
FRAMING_TRAILERS = frozenset(
    {b"content-length", b"transfer-encoding", b"host", b"connection", b"trailer"}
)


def check_head_bytes(head: bytes, line_ends: int, where: str = "the request head") -> None:
    """Refuse bare CR, bare LF and control characters anywhere in ``head``.

    ``line_ends`` is the number of CRLF sequences the caller split ``head`` on.
    A bare CR is refused (RFC 9112 2.2 allows replacing it by a space; refusing
    is simpler and cannot be misread by a proxy in front of us). A bare LF is
    refused too: see the theory of operation in ``_connection``.
    """
    if head.translate(TO_CR).count(b"\r") == 2 * line_ends:
        return
    carriage_returns = head.count(b"\r")
    if carriage_returns > line_ends:
        raise RemoteProtocolError(f"bare CR (not followed by LF) in {where}")
    if head.count(b"\n") > line_ends:
        raise RemoteProtocolError(f"bare LF line ending in {where}; use CRLF")
    raise RemoteProtocolError(f"control character in {where}")


def _refuse_name(line: bytes, name: bytes, separator: bytes) -> bytes:
    """Explain why ``line`` is not a valid field line (always raises)."""
    if line[:1] in (b" ", b"\t"):
        raise RemoteProtocolError("obsolete line folding (obs-fold) in a header field")
    if not separator:
        raise RemoteProtocolError("header line without a colon")
    if not name:
        raise RemoteProtocolError("empty header field name")
    if name[-1:] in (b" ", b"\t"):
        raise RemoteProtocolError("whitespace between header field name and colon")
    raise RemoteProtocolError("invalid character in header field name")


def new_name(line: bytes, name: bytes, separator: bytes) -> bytes:
    """Validate a field name not seen before, remember it, return it lower-cased."""
    if not separator or TOKEN.fullmatch(name) is None:
        _refuse_name(line, name, separator)
    return NAME_CACHE.remember(name, name.lower())


def parse_fields(
    lines: list[bytes], max_line: int, size: int, status_code: int = 431
) -> tuple[Headers, list[tuple[bytes, bytes]]]:
    """Parse field lines into ``(headers, special fields)``.

    The caller has already run :func:`check_head_bytes` over the lines, so only
    the structure of each line is checked here, and ``strip()`` can only remove
    spaces and tabs. Special fields (see :data:`SPECIAL_REQUEST_FIELDS`) are
    returned again in a second short list so that the caller never has to scan
    all headers a second time. This loop is the hottest code of the server.
    """
    if size > max_line:  # ``size`` covers all lines: else none can be too long
        for line in lines:
            if len(line) > max_line:
                raise RemoteProtocolError("header field too large", status_code=status_code)
    headers: Headers = []
    specials: list[tuple[bytes, bytes]] = []
    lookup = NAME_CACHE.get
    for line in lines:
        name, separator, value = line.partition(b":")
        lower = lookup(name)
        if lower is None or not separator:
            lower = new_name(line, name, separator)
        value = value.strip()
        headers.append((lower, value))
        if lower in SPECIAL_REQUEST_FIELDS:
            specials.append((lower, value))
    return headers, specials


def parse_content_length(values: list[bytes]) -> int:
    """Return the length of the one Content-Length value in *values*.

    RFC 9110 8.6 lets a recipient accept ``Content-Length: 5, 5`` and repeated
    identical fields; we refuse them, and anything that is not plain decimal
    digits: a proxy that reads such a field differently (the first value, the
    last, or the list as one malformed value) would see another message end, and
    a second, smuggled request in our body.
    """
    if len(values) != 1 or b"," in values[0]:
        raise RemoteProtocolError("more than one Content-Length value (a list, or a repeat)")
    digits = values[0].strip(b" \t")
    if not digits.isdigit():  # bytes.isdigit is ASCII only: no "+5", "0x5", "5 5"
        raise RemoteProtocolError("malformed Content-Length")
    if len(digits.lstrip(b"0")) > 18:  # past any body limit; also keeps int() cheap
        raise RemoteProtocolError("request body too large", status_code=413)
    return int(digits)


def split_tokens(values: list[bytes]) -> set[bytes]:
    """Split comma-separated list fields into lower-cased, non-empty tokens."""
    tokens = set()
    for value in values:
        for item in value.split(b","):
            item = item.strip(b" \t").lower()
            if item:
                tokens.add(item)
    return tokens


def parse_transfer_coding_is_chunked(values: list[bytes]) -> None:
    """Accept exactly ``Transfer-Encoding: chunked``; explain any other value.

    RFC 9112 6.3: if chunked is not the final coding the body length cannot be
    determined, and the server MUST answer 400. Codings other than chunked are
    not implemented (a 501, RFC 9112 6.1). Chunked twice is a 400 (6.1).
    """
    codings = [item.strip(b" \t").lower() for value in values for item in value.split(b",")]
    codings = [coding for coding in codings if coding]
    if codings == [b"chunked"]:
        return
    if not codings:
        raise RemoteProtocolError("empty Transfer-Encoding")
    # Judge the order on coding names; parameters ("chunked;x=1") only make a
    # coding one we do not support.
    names = [coding.partition(b";")[0].rstrip(b" \t") for coding in codings]
    if names[-1] != b"chunked" or names.count(b"chunked") > 1:
        raise RemoteProtocolError("chunked is not the final transfer coding, exactly once")
    raise RemoteProtocolError("unsupported transfer coding", status_code=501)


def check_sent_name(name: bytes) -> bytes:
    """Return the lower-cased form of a header name the application sends."""
    lower = SENT_NAME_CACHE.get(name)
    if lower is not None:
        return lower
    if TOKEN.fullmatch(name) is None:
        raise LocalProtocolError(f"invalid header name {name!r}")
    return SENT_NAME_CACHE.remember(name, name.lower())


def check_sent_bytes(head: bytes, line_ends: int) -> None:
    """Refuse an outgoing head whose values smuggle CR, LF or control characters.

    Names are tokens, so only values and the reason phrase can carry them; a CR
    or LF there would let the application (or whoever controls a value) inject
    headers or a whole second response.
    """
    if head.translate(TO_CR).count(b"\r") != 2 * line_ends:
        raise LocalProtocolError("CR, LF or control character in a header value or reason phrase")


def to_bytes(value: bytes | str) -> bytes:
    """Encode a ``str`` header name or value as Latin-1 (the HTTP field charset)."""
    if type(value) is bytes:
        return value
    if isinstance(value, str):
        try:
            return value.encode("latin-1")
        except UnicodeEncodeError:
            raise LocalProtocolError(
                f"header {value!r} is not Latin-1; encode it (e.g. RFC 8187) first"
            ) from None
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value)
    raise LocalProtocolError(f"header names and values must be bytes or str, not {value!r}")
