"""Turning received bytes into events: the request head and the two body framings.

Every reader takes the connection's receive buffer (a ``bytearray``), removes
exactly the bytes it consumed, and returns an event, or ``None`` when it needs
more bytes. Deleting from the front of a ``bytearray`` is amortised O(1) in
CPython, so consuming a message piece by piece never copies the rest.
"""

from __future__ import annotations

import re
from typing import Protocol

from ._errors import RemoteProtocolError
from ._events import Data, EndOfMessage, Headers, Request
from ._headers import (
    FRAMING_TRAILERS,
    NAME_CACHE,
    SPECIAL_REQUEST_FIELDS,
    TO_CR,
    TOKEN,
    check_head_bytes,
    new_name,
    parse_content_length,
    parse_fields,
    parse_transfer_coding_is_chunked,
    split_tokens,
)
from ._limits import Limits

__all__ = [
    "END_OF_MESSAGE",
    "BodyReader",
    "ChunkedReader",
    "ContentLengthReader",
    "check_partial_head",
    "parse_request_head",
    "valid_request_line",
]

_COMMON_METHODS = frozenset(
    {b"GET", b"HEAD", b"POST", b"PUT", b"DELETE", b"OPTIONS", b"PATCH", b"TRACE", b"CONNECT"}
)
_HTTP_VERSION = re.compile(rb"HTTP/[0-9]+\.[0-9]+")
# The request line nearly every client sends, checked in one C call: a common method,
# a target of VCHARs (0x21-0x7E), HTTP/1.x. Anything else takes the general path, which
# accepts the same lines and explains the bad ones.
_USUAL_REQUEST_LINE = re.compile(
    rb"(GET|HEAD|POST|PUT|DELETE|OPTIONS|PATCH) ([!-~]+) HTTP/1\.([01])"
)
_HEX_DIGITS = b"0123456789abcdefABCDEF"
# Request-target forms other than origin-form (RFC 9112 3.2; RFC 3986 for the scheme).
_ABSOLUTE_FORM = re.compile(rb"[A-Za-z][A-Za-z0-9+.-]*://[^/?#]")
_AUTHORITY_FORM = re.compile(rb"(?:\[[0-9A-Fa-f:.]+\]|[^/?#@\[\]:]+):[0-9]+")
# Chunk extensions after the size (RFC 9112 7.1.1): each ";" BWS name [BWS "=" BWS value],
# the value a token or a quoted string.
_CHUNK_EXTENSIONS = re.compile(
    rb"(?:[ \t]*;[ \t]*[-!#$%&\'*+.^_`|~0-9A-Za-z]+"
    rb'(?:[ \t]*=[ \t]*(?:[-!#$%&\'*+.^_`|~0-9A-Za-z]+|"(?:[^"\\]|\\.)*"))?)*'
)
#: The end of every body without trailers (and of no body): one shared event, since
#: events are values; a request costs one object less.
END_OF_MESSAGE = EndOfMessage()


class BodyReader(Protocol):
    """Reads one request body from the receive buffer."""

    def read(self, buffer: bytearray) -> Data | EndOfMessage | None:
        """Consume body bytes from ``buffer``; ``None`` means "need more bytes"."""


def _refuse_version(version: bytes) -> None:
    if _HTTP_VERSION.fullmatch(version):
        raise RemoteProtocolError("HTTP version not supported", status_code=505)
    raise RemoteProtocolError("invalid HTTP version in the request line")


def _parse_request_line(request_line: bytes) -> tuple[bytes, bytes, bytes]:
    """``(method, target, http_version)`` of any request line, or the reason it is bad."""
    parts = request_line.split(b" ")
    if len(parts) != 3:
        raise RemoteProtocolError("invalid request line: expected 'METHOD target HTTP/1.1'")
    method, target, version = parts
    if version == b"HTTP/1.1":
        http_version = b"1.1"
    elif version == b"HTTP/1.0":
        http_version = b"1.0"
    else:
        _refuse_version(version)
    if method not in _COMMON_METHODS and TOKEN.fullmatch(method) is None:
        raise RemoteProtocolError("invalid method in the request line")
    # Controls were refused above and spaces split the line, so ASCII without
    # HTAB leaves exactly the VCHARs a request-target is made of.
    if not target or not target.isascii() or b"\t" in target:
        raise RemoteProtocolError("invalid request target")
    return method, target, http_version


def _check_target_form(method: bytes, target: bytes) -> None:
    """Refuse a request-target in a form its method does not take (RFC 9112 3.2).

    Origin-form (``/path?query``) for every method but CONNECT; asterisk-form
    (``*``) only for OPTIONS; authority-form (``host:port``) only for, and always
    for, CONNECT; absolute-form (``http://host/path``) for any other method.
    """
    if method == b"CONNECT":
        if _AUTHORITY_FORM.fullmatch(target) is None:
            raise RemoteProtocolError("CONNECT needs a host:port target (authority-form)")
    elif target == b"*":
        if method != b"OPTIONS":
            raise RemoteProtocolError("the target '*' is only for OPTIONS")
    elif target[0] != 0x2F and _ABSOLUTE_FORM.match(target) is None:
        raise RemoteProtocolError(
            "invalid request target: expected '/path', 'http://host/path', '*' (OPTIONS) "
            "or 'host:port' (CONNECT)"
        )


def check_partial_head(buffer: bytearray, limits: Limits, search_from: int) -> None:
    """Enforce the head limits on a head that has no end yet (*search_from*: where the
    last look for its end began, so a bare LF is looked for only in what is new)."""
    size = len(buffer)
    if size > limits.max_request_line:
        line_end = buffer.find(b"\r\n")
        if line_end < 0 or line_end > limits.max_request_line:
            raise RemoteProtocolError("request line too long", status_code=414)
    if size > limits.max_head_size:
        raise RemoteProtocolError("request head too large", status_code=431)
    if size > limits.max_header_size and size - buffer.rfind(b"\r\n") - 2 > limits.max_header_size:
        raise RemoteProtocolError("header field too large", status_code=431)
    if buffer.find(b"\n\n", max(0, search_from - 1)) >= 0:
        raise RemoteProtocolError("bare LF line ending in the request head; use CRLF")


def valid_request_line(line: bytes) -> bytes | None:
    """``b"METHOD target HTTP/1.x"`` if *line* (without its CRLF) is a valid
    request line, else None; never raises."""
    if line.translate(TO_CR).count(b"\r"):  # a control character, CR or LF
        return None
    try:
        method, target, http_version = _parse_request_line(line)
    except RemoteProtocolError:
        return None
    return b"%s %s HTTP/%s" % (method, target, http_version)


def parse_request_head(head: bytes, limits: Limits) -> tuple[Request, BodyReader | None]:
    """Parse a complete head (without its final empty line) into a request.

    Returns the :class:`Request` and the reader for its body, ``None`` when the
    request has no body. All framing decisions are made here, before a single
    body byte is looked at, so an oversized Content-Length is refused (413)
    while the client may still be waiting for ``100 Continue``.
    """
    lines = head.split(b"\r\n")
    request_line = lines[0]
    if len(request_line) > limits.max_request_line:
        raise RemoteProtocolError("request line too long", status_code=414)
    line_ends = len(lines) - 1
    if line_ends > limits.max_header_count:
        raise RemoteProtocolError("too many header fields", status_code=431)
    if head.translate(TO_CR).count(b"\r") != 2 * line_ends:  # check_head_bytes' fast test
        check_head_bytes(head, line_ends)

    match = _USUAL_REQUEST_LINE.fullmatch(request_line)
    if match is not None:
        method, target, minor = match.groups()
        http_version = b"1.1" if minor == b"1" else b"1.0"
    else:
        method, target, http_version = _parse_request_line(request_line)

    # parse_fields' work, inlined (a call, and a second loop over the special fields,
    # fewer for every request); the trailers of a chunked body use parse_fields.
    del lines[0]
    max_line = limits.max_header_size
    if len(head) > max_line:  # else no line can be too long
        for line in lines:
            if len(line) > max_line:
                raise RemoteProtocolError("header field too large", status_code=431)
    headers: Headers = []
    lookup = NAME_CACHE.get
    # The fields the connection must look at are taken as the loop meets them. List-
    # valued ones are joined with commas, which RFC 9110 5.3 makes equivalent to
    # repeating the field; one variable each keeps this short.
    hosts = content_types = 0
    content_length = transfer_encoding = connection = expect = upgrade = None
    for line in lines:
        name, separator, value = line.partition(b":")
        lower = lookup(name)
        if lower is None or not separator:
            lower = new_name(line, name, separator)
        value = value.strip()
        headers.append((lower, value))
        if lower in SPECIAL_REQUEST_FIELDS:
            if lower == b"host":
                hosts += 1
            elif lower == b"connection":
                connection = value if connection is None else connection + b"," + value
            elif lower == b"content-length":
                content_length = value if content_length is None else content_length + b"," + value
            elif lower == b"transfer-encoding":
                transfer_encoding = (
                    value if transfer_encoding is None else transfer_encoding + b"," + value
                )
            elif lower == b"content-type":
                content_types += 1
            elif lower == b"expect":
                expect = value if expect is None else expect + b"," + value
            else:
                upgrade = value if upgrade is None else upgrade + b"," + value

    if hosts != 1 and (hosts or http_version == b"1.1"):
        raise RemoteProtocolError(
            "more than one Host header" if hosts else "missing Host header (required in HTTP/1.1)"
        )
    if content_types > 1:  # which one would the app, or a proxy, have read?
        raise RemoteProtocolError("more than one Content-Type header")
    if target[0] != 0x2F or method == b"CONNECT":  # "/": origin-form, nearly every request
        _check_target_form(method, target)

    keep_alive = http_version == b"1.1"
    expects_continue = False
    # The protocols offered in Upgrade count only when Connection lists "upgrade"
    # (RFC 9110 7.8: a proxy drops hop-by-hop fields it does not name), and only
    # from HTTP/1.1; a one-token Connection value below cannot list it.
    offered = None
    if connection is not None:
        connection = connection.lower()
        # Fast paths for the one-token values nearly every client sends.
        if connection == b"close":
            keep_alive = False
        elif connection == b"keep-alive":
            keep_alive = True
        else:
            tokens = split_tokens([connection])
            if b"close" in tokens:
                keep_alive = False
            elif b"keep-alive" in tokens:
                keep_alive = True
            if b"upgrade" in tokens and upgrade is not None and http_version == b"1.1":
                offered = upgrade
    if expect is not None and http_version == b"1.1":  # RFC 9110 10.1.1: ignore from 1.0
        expects_continue = b"100-continue" in split_tokens([expect])

    reader: BodyReader | None = None
    if transfer_encoding is not None:
        if content_length is not None:
            raise RemoteProtocolError("Content-Length and Transfer-Encoding both present")
        if http_version == b"1.0":
            # RFC 9112 6.1: an HTTP/1.0 message with Transfer-Encoding has faulty framing.
            raise RemoteProtocolError("Transfer-Encoding in an HTTP/1.0 request")
        parse_transfer_coding_is_chunked([transfer_encoding])
        reader = ChunkedReader(limits)
    elif content_length is not None:
        length = parse_content_length([content_length])
        if length > limits.max_body_size:
            raise RemoteProtocolError("request body too large", status_code=413)
        if length:
            reader = ContentLengthReader(length)
    return Request(
        method, target, http_version, headers, keep_alive, expects_continue, offered, upgrade
    ), reader


class ContentLengthReader:
    """A body of a length announced in advance."""

    __slots__ = ("remaining",)

    def __init__(self, length: int) -> None:
        self.remaining = length

    def read(self, buffer: bytearray) -> Data | EndOfMessage | None:
        """Return the next piece of body, then :class:`EndOfMessage`."""
        remaining = self.remaining
        if not remaining:
            return END_OF_MESSAGE
        if not buffer:
            return None
        if len(buffer) <= remaining:
            data = bytes(buffer)
            buffer.clear()
        else:
            data = bytes(buffer[:remaining])
            del buffer[:remaining]
        self.remaining = remaining - len(data)
        return Data(data)


# ChunkedReader phases.
_SIZE_LINE, _CHUNK_DATA, _CHUNK_END, _TRAILERS = range(4)


class ChunkedReader:
    """A chunked body (RFC 9112 7.1): size lines, data, CRLFs and trailers.

    Chunk extensions are checked for control characters and then ignored: none
    is defined that a server must understand, and silently dropping a bare LF
    inside one is a known source of parser disagreement (request smuggling).
    """

    __slots__ = ("_limits", "_phase", "_remaining", "_search_from", "_total")

    def __init__(self, limits: Limits) -> None:
        self._limits = limits
        self._phase = _SIZE_LINE
        self._remaining = 0
        self._total = 0
        self._search_from = 0

    def read(self, buffer: bytearray) -> Data | EndOfMessage | None:
        """Return the next piece of chunk data, then :class:`EndOfMessage`."""
        while True:
            phase = self._phase
            if phase == _CHUNK_DATA:
                if not buffer:
                    return None
                count = min(len(buffer), self._remaining)
                data = bytes(buffer[:count])
                del buffer[:count]
                self._remaining -= count
                if not self._remaining:
                    self._phase = _CHUNK_END
                return Data(data)
            if phase == _SIZE_LINE:
                if not self._read_size_line(buffer):
                    return None
            elif phase == _CHUNK_END:
                if len(buffer) < 2:
                    if buffer and buffer[0] != 0x0D:
                        raise RemoteProtocolError("missing CRLF after chunk data")
                    return None
                if buffer[:2] != b"\r\n":
                    raise RemoteProtocolError("missing CRLF after chunk data")
                del buffer[:2]
                self._phase = _SIZE_LINE
            else:
                return self._read_trailers(buffer)

    def _read_size_line(self, buffer: bytearray) -> bool:
        limit = self._limits.max_chunk_line
        end = buffer.find(b"\r\n")
        if end < 0:
            if len(buffer) > limit:
                raise RemoteProtocolError("chunk size line too long")
            return False
        if end > limit:
            raise RemoteProtocolError("chunk size line too long")
        line = bytes(buffer[:end])
        del buffer[: end + 2]
        size, semicolon, extensions = line.partition(b";")
        size = size.rstrip(b" \t")  # BWS before ";" (RFC 9112 7.1.1)
        if not size or size.translate(None, _HEX_DIGITS):
            raise RemoteProtocolError("invalid chunk size line")
        if semicolon:
            check_head_bytes(extensions, 0, "a chunk extension")
            if _CHUNK_EXTENSIONS.fullmatch(b";" + extensions) is None:
                raise RemoteProtocolError("invalid chunk extension: ';' needs a name")
        size = size.lstrip(b"0")
        if len(size) > 15:
            raise RemoteProtocolError("chunk size too large")
        length = int(size, 16) if size else 0
        if not length:
            self._phase = _TRAILERS
            return True
        self._total += length
        if self._total > self._limits.max_body_size:
            raise RemoteProtocolError("request body too large", status_code=413)
        self._remaining = length
        self._phase = _CHUNK_DATA
        return True

    def _read_trailers(self, buffer: bytearray) -> EndOfMessage | None:
        if buffer.startswith(b"\r\n"):
            del buffer[:2]
            return END_OF_MESSAGE
        limit = self._limits.max_trailer_size
        end = buffer.find(b"\r\n\r\n", self._search_from)
        if end < 0:
            if len(buffer) > limit:
                raise RemoteProtocolError("trailer section too large", status_code=431)
            if b"\n\n" in buffer:
                raise RemoteProtocolError("bare LF line ending in the trailer section")
            self._search_from = max(0, len(buffer) - 3)
            return None
        if end > limit:
            raise RemoteProtocolError("trailer section too large", status_code=431)
        block = bytes(buffer[:end])
        del buffer[: end + 4]
        lines = block.split(b"\r\n")
        check_head_bytes(block, len(lines) - 1, "the trailer section")
        trailers, _ = parse_fields(lines, limit, len(block))
        for name, _value in trailers:
            if name in FRAMING_TRAILERS:
                raise RemoteProtocolError("framing or routing field in the trailer section")
        return EndOfMessage(trailers)
