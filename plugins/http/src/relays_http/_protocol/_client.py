"""The client side of one HTTP/1.1 connection, without any I/O.

Theory of operation
===================

:class:`ClientConnection` is the server :class:`~relays_http._protocol.Connection`
seen from the other end of the socket, built from the same parts: the request is
framed by the server's body writers (``Content-Length`` or chunked) and checked for
header injection by the same functions, and the response body is read by the same
:class:`ContentLengthReader` and :class:`ChunkedReader`, so a fix in one of them
helps both roles. What is the client's own lives here: the status line, the rules
that decide how a *response* is framed, and read-until-close bodies.

One exchange at a time (no pipelining)::

    our side:   IDLE -start_request-> SEND_BODY -end_request-> DONE
    their side: IDLE -1xx heads*, final head-> SEND_BODY -EndOfMessage-> DONE

The response may arrive before the request body is sent in full (a server that
refuses an upload early): both sides are independent until the end. When both
are ``DONE`` and the exchange was keep-alive, :meth:`start_next_cycle` makes the
connection reusable; a side that knows the connection must close goes to
``MUST_CLOSE`` instead, and :attr:`ClientConnection.reusable` is False.

Response framing (RFC 9112 6.3, in order): a response to HEAD, a 1xx, 204 or 304
has no body, nor has a 2xx to CONNECT (the connection is a tunnel after it);
``Transfer-Encoding: chunked`` is a chunked body; ``Content-Length`` is that many
bytes; otherwise the body runs until the server closes, and the connection is not
reused. As on the server side, anything two parsers could read
differently is refused rather than repaired: Content-Length with Transfer-Encoding,
a Content-Length list or repeat, a transfer coding other than chunked, bare CR or
LF, obs-fold. A response is never guessed from a half-read head.

Bounded memory. Every limit of :class:`ResponseLimits` is checked as bytes arrive,
before they are kept: a head that never ends, a field that never ends, a chunk
size line that never ends and a body longer than ``max_body_size`` (announced,
chunked or read until close) all raise :class:`RemoteProtocolError` rather than
grow the buffer. The I/O glue reads a body a piece at a time, so the buffer holds
at most one socket read beyond the head limits.

EOF. The server closing before any byte of the response is told apart
(:attr:`ClientConnection.response_started` is False): on a reused keep-alive
connection it is the race RFC 9112 9.3.1 describes, and an idempotent request may
be sent again on a new connection. Anywhere else but the end of a read-until-close
body, EOF is a :class:`RemoteProtocolError` naming where the response was cut.
"""

from __future__ import annotations

import re
from typing import Any

import attrs

from ._errors import LocalProtocolError, RemoteProtocolError
from ._events import NEED_DATA, Data, EndOfMessage, Headers, HeadersInput, Signal
from ._headers import (
    TO_CR,
    TOKEN,
    check_head_bytes,
    check_sent_bytes,
    check_sent_name,
    parse_content_length,
    parse_fields,
    parse_transfer_coding_is_chunked,
    split_tokens,
    to_bytes,
)
from ._limits import Limits
from ._readers import END_OF_MESSAGE, BodyReader, ChunkedReader, ContentLengthReader
from ._state import State
from ._writers import BodyWriter, ChunkedWriter, ContentLengthWriter

__all__ = ["ClientConnection", "ResponseHead", "ResponseLimits", "ServerDisconnected"]

KiB = 1024
MiB = 1024 * KiB

IDLE = State.IDLE
SEND_BODY = State.SEND_BODY
DONE = State.DONE
MUST_CLOSE = State.MUST_CLOSE
CLOSED = State.CLOSED
ERROR = State.ERROR

_STATUS_LINE = re.compile(rb"HTTP/1\.([01]) ([0-9]{3})(?: ([\t !-~\x80-\xff]*))?")
_ANY_VERSION = re.compile(rb"HTTP/([0-9]+\.[0-9]+) ")
#: A request-target we send: VCHARs only (no space, no control, no non-ASCII).
_TARGET = re.compile(rb"[!-~]+")
#: Request fields the framing decides on: the caller says the body's length instead.
_FRAMING_FIELDS = frozenset({b"content-length", b"transfer-encoding"})
#: Response fields the connection must look at.
_SPECIAL_RESPONSE_FIELDS = frozenset({b"content-length", b"transfer-encoding", b"connection"})


class ServerDisconnected(RemoteProtocolError):
    """The server closed the connection before sending any byte of the response.

    On a reused keep-alive connection this is usually not a broken server but the race
    of RFC 9112 9.3.1: it closed the idle connection as the request went out. An
    idempotent request can then be sent again on a new connection.
    """

    def __init__(self) -> None:
        super().__init__("the server closed the connection without answering")


def _positive(instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
    """Refuse zero, negative and non-numeric limits: a limit of 0 is never meant."""
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError(
            f"ResponseLimits.{attribute.name} must be a positive integer, not {value!r}"
        )


@attrs.frozen
class ResponseLimits:
    """How much of a response a client accepts; past a limit it is a protocol error.

    Defaults bound a response head like the server bounds a request head, and a body
    at 1 GiB: enough for downloads, yet a server sending an endless body cannot fill
    memory or disk unnoticed. A body is streamed, so the limit is about time and what
    the caller keeps, not the buffer, which stays small whatever the body size.
    """

    #: Longest status line (``HTTP/1.1 200 OK``).
    max_status_line: int = attrs.field(default=8 * KiB, validator=_positive)
    #: Longest single header line, name and value together.
    max_header_size: int = attrs.field(default=16 * KiB, validator=_positive)
    #: Most header fields in one response head.
    max_header_count: int = attrs.field(default=200, validator=_positive)
    #: Longest response head, status line and all fields together.
    max_head_size: int = attrs.field(default=128 * KiB, validator=_positive)
    #: Largest body, announced (Content-Length), chunked or read until close.
    max_body_size: int = attrs.field(default=1024 * MiB, validator=_positive)
    #: Longest chunk-size line including chunk extensions.
    max_chunk_line: int = attrs.field(default=4 * KiB, validator=_positive)
    #: Largest trailer section of a chunked body.
    max_trailer_size: int = attrs.field(default=16 * KiB, validator=_positive)
    #: Most 1xx interim responses before the final one (a server cannot stall us
    #: forever with ``102 Processing``).
    max_informational: int = attrs.field(default=16, validator=_positive)

    def body_limits(self) -> Limits:
        """The server-side :class:`Limits` that make the shared body readers enforce ours."""
        return Limits(
            max_body_size=self.max_body_size,
            max_chunk_line=self.max_chunk_line,
            max_trailer_size=self.max_trailer_size,
        )


@attrs.define(slots=True)
class ResponseHead:
    """A received response head: a 1xx interim response or the final one.

    The body of a final response follows as :class:`Data` and :class:`EndOfMessage`.
    """

    #: The three-digit status code.
    status_code: int
    #: The reason phrase as sent (may be empty; carries no meaning).
    reason: bytes
    #: ``b"1.1"`` or ``b"1.0"``.
    http_version: bytes
    #: Lower-cased names, stripped values, in the order received.
    headers: Headers
    #: Whether the connection can be reused after this response (for a final one).
    keep_alive: bool = True

    def get(self, name: bytes, default: bytes | None = None) -> bytes | None:
        """Return the first value of header ``name`` (lower-case bytes), or ``default``."""
        for field_name, value in self.headers:
            if field_name == name:
                return value
        return default

    def get_all(self, name: bytes) -> list[bytes]:
        """Return every value of header ``name`` (lower-case bytes), in order."""
        return [value for field_name, value in self.headers if field_name == name]


class UntilCloseReader:
    """A response body without a length: everything until the server closes."""

    __slots__ = ("_limit", "_total", "eof")

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._total = 0
        #: Set by the connection when the server closed.
        self.eof = False

    def read(self, buffer: bytearray) -> Data | EndOfMessage | None:
        """Return what is buffered, then :class:`EndOfMessage` after EOF."""
        if buffer:
            self._total += len(buffer)
            if self._total > self._limit:
                raise RemoteProtocolError("response body over max_body_size", status_code=413)
            data = bytes(buffer)
            buffer.clear()
            return Data(data)
        return END_OF_MESSAGE if self.eof else None


def _refuse_status_line(line: bytes) -> None:
    """Explain why ``line`` is not a status line we accept (always raises)."""
    version = _ANY_VERSION.match(line)
    if version is not None and version.group(1) not in (b"1.0", b"1.1"):
        raise RemoteProtocolError(
            "response in an HTTP version other than 1.0 and 1.1", status_code=505
        )
    raise RemoteProtocolError("malformed status line: expected 'HTTP/1.1 <3 digits> <reason>'")


class ClientConnection:
    """The client side of one HTTP/1.1 connection: requests out, responses in.

    One instance per connection; not thread-safe, not reentrant.
    """

    __slots__ = (
        "_body_limits",
        "_buffer",
        "_connect_request",
        "_eof",
        "_error",
        "_head_request",
        "_informational",
        "_keep_alive",
        "_reader",
        "_received_any",
        "_search_from",
        "_writer",
        "limits",
        "our_state",
        "their_state",
    )

    def __init__(self, limits: ResponseLimits | None = None) -> None:
        #: The response limits this connection enforces.
        self.limits = ResponseLimits() if limits is None else limits
        self._body_limits = self.limits.body_limits()
        #: The client's (our) side of the exchange.
        self.our_state = IDLE
        #: The server's (their) side of the exchange.
        self.their_state = IDLE
        self._buffer = bytearray()
        self._eof = False
        self._error: RemoteProtocolError | None = None
        self._search_from = 0
        self._reader: BodyReader | None = None
        self._writer: BodyWriter | None = None
        self._keep_alive = True
        self._head_request = False
        self._connect_request = False
        self._informational = 0
        self._received_any = False

    # -- state -------------------------------------------------------------------

    @property
    def reusable(self) -> bool:
        """Whether another request may follow on this connection (after
        :meth:`start_next_cycle`): both messages ended, keep-alive, nothing unasked-for
        buffered and no EOF."""
        return (
            self._keep_alive
            and self.our_state is DONE
            and self.their_state is DONE
            and not self._buffer
            and not self._eof
        )

    @property
    def ready_for_request(self) -> bool:
        """Whether a request may start now: both sides ``IDLE``, nothing received
        unasked-for, no EOF. An idle pooled connection is checked with this."""
        return (
            self.our_state is IDLE
            and self.their_state is IDLE
            and not self._buffer
            and not self._eof
        )

    @property
    def response_started(self) -> bool:
        """Whether any byte of the current response was received."""
        return self._received_any

    @property
    def buffered_size(self) -> int:
        """How many received bytes wait to be parsed: the glue stops reading from the
        socket while this is high, which bounds memory when the caller reads slowly."""
        return len(self._buffer)

    @property
    def trailing_data(self) -> tuple[bytes, bool]:
        """The received bytes not parsed yet, and whether EOF was received."""
        return bytes(self._buffer), self._eof

    def start_next_cycle(self) -> None:
        """Make the connection ready for the next request.

        Only legal when :attr:`reusable` is True.
        """
        if not self.reusable:
            raise LocalProtocolError(
                f"cannot reuse the connection: our_state={self.our_state.name}, "
                f"their_state={self.their_state.name}, keep_alive={self._keep_alive}, "
                f"unread bytes={len(self._buffer)}, eof={self._eof}"
            )
        self.our_state = IDLE
        self.their_state = IDLE
        self._reader = None
        self._writer = None
        self._head_request = False
        self._informational = 0
        self._received_any = False

    def _settle(self) -> None:
        if not self._keep_alive:
            if self.our_state is DONE:
                self.our_state = MUST_CLOSE
            if self.their_state is DONE:
                self.their_state = MUST_CLOSE

    # -- sending -----------------------------------------------------------------

    def start_request(
        self,
        method: bytes,
        target: bytes,
        headers: HeadersInput,
        *,
        content_length: int | None = 0,
    ) -> bytes:
        """Return the request head for ``method target`` with ``headers``.

        ``headers`` must hold exactly one ``Host``. ``content_length`` is the body's
        length, or None for a body of unknown length, which is sent chunked. Framing
        fields in ``headers`` are refused: the length given here is the one that is
        written, so the two can never disagree. A ``Connection: close`` is honoured
        (the connection is then not reused). Nothing changes if this raises.
        """
        if self.our_state is not IDLE:
            raise LocalProtocolError(f"cannot start a request in state {self.our_state.name}")
        if TOKEN.fullmatch(method) is None:
            raise LocalProtocolError(f"invalid method {method!r}: it must be a token")
        if _TARGET.fullmatch(target) is None:
            raise LocalProtocolError(
                f"invalid request target {target!r}: percent-encode spaces, controls and non-ASCII"
            )
        parts = [method, b" ", target, b" HTTP/1.1\r\n"]
        hosts = 0
        keep_alive = True
        for raw_name, raw_value in headers:
            name, value = to_bytes(raw_name), to_bytes(raw_value)
            lower = check_sent_name(name)
            if lower in _FRAMING_FIELDS:
                raise LocalProtocolError(
                    f"{name!r} is written from content_length: do not send it yourself"
                )
            if lower == b"host":
                hosts += 1
            elif lower == b"connection" and b"close" in split_tokens([value]):
                keep_alive = False
            parts += (name, b": ", value, b"\r\n")
        if hosts != 1:
            raise LocalProtocolError("a request needs exactly one Host header field")
        line_ends = 2 + len(headers)
        writer: BodyWriter
        if content_length is None:
            parts.append(b"transfer-encoding: chunked\r\n")
            line_ends += 1
            writer = ChunkedWriter()
        else:
            if content_length < 0:
                raise LocalProtocolError("content_length cannot be negative")
            if content_length or method in (b"POST", b"PUT", b"PATCH"):
                parts.append(b"content-length: %d\r\n" % content_length)
                line_ends += 1
            writer = ContentLengthWriter(content_length)
        parts.append(b"\r\n")
        head = b"".join(parts)
        if head.translate(TO_CR).count(b"\r") != 2 * line_ends:
            check_sent_bytes(head, line_ends)
        self._writer = writer
        self._keep_alive = keep_alive
        self._head_request = method == b"HEAD"
        self._connect_request = method == b"CONNECT"
        self.our_state = SEND_BODY
        return head

    def send_data(self, data: bytes) -> bytes:
        """Return the bytes that carry ``data``, a piece of the request body."""
        if self.our_state is not SEND_BODY or self._writer is None:
            raise LocalProtocolError(f"cannot send body data in state {self.our_state.name}")
        return self._writer.write(data)

    def end_request(self, trailers: HeadersInput = ()) -> bytes:
        """Return the bytes that end the request body (a chunked one may carry trailers)."""
        if self.our_state is not SEND_BODY or self._writer is None:
            raise LocalProtocolError(f"cannot end a request in state {self.our_state.name}")
        end = self._writer.end(trailers)
        self.our_state = DONE
        self._settle()
        return end

    def abandon_request(self) -> None:
        """Give up sending the request body (the server answered already, or the caller
        gave up): the connection will not be reused, since the server may still wait
        for the rest."""
        self._keep_alive = False
        if self.our_state is SEND_BODY:
            self.our_state = MUST_CLOSE
        self._settle()

    # -- receiving ---------------------------------------------------------------

    def receive_data(self, data: bytes) -> None:
        """Add bytes read from the socket; ``b""`` means the server closed (EOF)."""
        if data:
            if self._eof:
                raise LocalProtocolError("received data after EOF")
            self._buffer += data
        else:
            self._eof = True

    def next_event(self) -> ResponseHead | Data | EndOfMessage | Signal:
        """Return the next event of the response, or :data:`NEED_DATA`.

        1xx heads come first (any number up to ``max_informational``), then the final
        head, then its body as :class:`Data` and one :class:`EndOfMessage`. After that,
        :data:`NEED_DATA` until :meth:`start_next_cycle`. Raises
        :class:`RemoteProtocolError` when the server broke the protocol or a limit; the
        connection is then unusable and every later call raises again.
        """
        state = self.their_state
        if state is ERROR:
            first = self._error
            assert first is not None
            if type(first) is ServerDisconnected:
                raise ServerDisconnected
            raise RemoteProtocolError(first.reason, status_code=first.status_code)
        try:
            if state is IDLE:
                if self.our_state is IDLE:
                    return NEED_DATA  # nothing asked yet: bytes wait (and spoil reuse)
                return self._read_head()
            if state is SEND_BODY:
                return self._read_body()
        except RemoteProtocolError as error:
            self.their_state = ERROR
            self._keep_alive = False
            self._error = error
            raise
        return NEED_DATA

    def _read_head(self) -> ResponseHead | Data | EndOfMessage | Signal:
        buffer = self._buffer
        if buffer:
            self._received_any = True
        end = buffer.find(b"\r\n\r\n", self._search_from)
        limits = self.limits
        if end < 0:
            self._check_partial_head()
            if self._eof:
                if buffer:
                    raise RemoteProtocolError("connection closed in the middle of a response head")
                raise ServerDisconnected
            self._search_from = max(0, len(buffer) - 3)
            return NEED_DATA
        if end > limits.max_head_size:
            raise RemoteProtocolError("response head over max_head_size", status_code=431)
        head = bytes(buffer[:end])
        del buffer[: end + 4]
        self._search_from = 0
        response = self._parse_head(head)
        if response.status_code < 200:
            self._informational += 1
            if self._informational > limits.max_informational:
                raise RemoteProtocolError(
                    "more 1xx interim responses than max_informational", status_code=431
                )
        else:
            self.their_state = SEND_BODY
        return response

    def _check_partial_head(self) -> None:
        """Enforce the head limits on a head that has no end yet."""
        buffer = self._buffer
        limits = self.limits
        size = len(buffer)
        if size > limits.max_status_line:
            line_end = buffer.find(b"\r\n")
            if line_end < 0 or line_end > limits.max_status_line:
                raise RemoteProtocolError("status line over max_status_line", status_code=431)
        if size > limits.max_head_size:
            raise RemoteProtocolError("response head over max_head_size", status_code=431)
        if (
            size > limits.max_header_size
            and size - buffer.rfind(b"\r\n") - 2 > limits.max_header_size
        ):
            raise RemoteProtocolError("header field over max_header_size", status_code=431)
        if buffer.find(b"\n\n", max(0, self._search_from - 1)) >= 0:
            raise RemoteProtocolError("bare LF line ending in the response head")

    def _parse_head(self, head: bytes) -> ResponseHead:
        limits = self.limits
        lines = head.split(b"\r\n")
        status_line = lines[0]
        if len(status_line) > limits.max_status_line:
            raise RemoteProtocolError("status line over max_status_line", status_code=431)
        if len(lines) - 1 > limits.max_header_count:
            raise RemoteProtocolError("more header fields than max_header_count", status_code=431)
        check_head_bytes(head, len(lines) - 1, "the response head")
        match = _STATUS_LINE.fullmatch(status_line)
        if match is None:
            _refuse_status_line(status_line)
            raise AssertionError("unreachable")  # for mypy: _refuse_status_line raises
        minor, code, reason = match.groups()
        status_code = int(code)
        if status_code < 100:
            raise RemoteProtocolError("status code below 100 in the status line")
        http_version = b"1.1" if minor == b"1" else b"1.0"
        del lines[0]
        headers, specials = parse_fields(lines, limits.max_header_size, len(head))
        response = ResponseHead(status_code, reason or b"", http_version, headers)
        if status_code < 200:
            if status_code == 101:
                raise RemoteProtocolError(
                    "101 Switching Protocols, but this client never offers an upgrade"
                )
            return response
        content_length = transfer_encoding = None
        connection: list[bytes] = []
        for name, value in specials:
            if name == b"content-length":
                content_length = value if content_length is None else content_length + b"," + value
            elif name == b"transfer-encoding":
                transfer_encoding = (
                    value if transfer_encoding is None else transfer_encoding + b"," + value
                )
            elif name == b"connection":
                connection.append(value)
        tokens = split_tokens(connection) if connection else set()
        if http_version == b"1.1":
            keep_alive = b"close" not in tokens
        else:
            keep_alive = b"keep-alive" in tokens and b"close" not in tokens
        # The framing fields are checked even when they do not frame anything (HEAD,
        # 204, 304): a malformed one is a broken server, and refusing it always keeps
        # the rule simple.
        length: int | None = None
        if transfer_encoding is not None:
            if content_length is not None:
                raise RemoteProtocolError("Content-Length and Transfer-Encoding both present")
            if http_version == b"1.0":
                raise RemoteProtocolError("Transfer-Encoding in an HTTP/1.0 response")
            try:
                parse_transfer_coding_is_chunked([transfer_encoding])
            except RemoteProtocolError as error:
                raise RemoteProtocolError(
                    f"{error.reason}: only Transfer-Encoding: chunked is understood"
                ) from None
        elif content_length is not None:
            try:
                length = parse_content_length([content_length])
            except RemoteProtocolError as error:
                raise RemoteProtocolError(error.reason.replace("request", "response")) from None
        reader: BodyReader | None = None
        if self._connect_request and status_code < 300:
            # RFC 9112 6.3 rule 2: a 2xx to CONNECT makes the connection a tunnel right
            # after the head; what follows is the tunnel's (see trailing_data).
            keep_alive = False
        elif self._head_request or status_code in (204, 304):
            pass  # no body, whatever the framing fields say (RFC 9112 6.3 rule 1)
        elif transfer_encoding is not None:
            reader = ChunkedReader(self._body_limits)
        elif length is not None:
            if length > limits.max_body_size:
                raise RemoteProtocolError(
                    f"response body of {length} bytes is over max_body_size", status_code=413
                )
            reader = ContentLengthReader(length)
        else:
            reader = UntilCloseReader(limits.max_body_size)
            keep_alive = False
        self._reader = reader
        if not keep_alive:
            self._keep_alive = False
        response.keep_alive = self._keep_alive
        return response

    def _read_body(self) -> Data | EndOfMessage | Signal:
        reader = self._reader
        if reader is None:
            event: Data | EndOfMessage | None = END_OF_MESSAGE
        else:
            if self._eof and type(reader) is UntilCloseReader:
                reader.eof = True
            try:
                event = reader.read(self._buffer)
            except RemoteProtocolError as error:
                if error.status_code == 413:
                    raise RemoteProtocolError(
                        "response body over max_body_size", status_code=413
                    ) from None
                raise
        if event is None:
            if self._eof:
                raise RemoteProtocolError(
                    "connection closed in the middle of the response body"
                    " (fewer bytes than announced, or an unfinished chunked body)"
                )
            return NEED_DATA
        if type(event) is EndOfMessage or event is END_OF_MESSAGE:
            self.their_state = DONE
            self._settle()
        return event
