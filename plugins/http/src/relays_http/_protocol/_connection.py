"""The server side of one HTTP/1.1 connection, without any I/O.

Theory of operation
===================

A :class:`Connection` is fed the bytes read from a socket
(:meth:`~Connection.receive_data`; ``b""`` means EOF) and hands back events
(:meth:`~Connection.next_event`). The application's events go the other way
through :meth:`~Connection.send`, which returns the bytes to write. The I/O
glue owns the socket, the timeouts and the tasks; this object owns the buffer,
the framing and the rules, and never blocks, sleeps or reads a clock.

States. Each side has a :class:`State`; the methods below make every
transition and are their source of truth (``_state`` explains why there is no
table)::

    client (their_state): IDLE -Request-> SEND_BODY -EndOfMessage-> DONE
    server (our_state):   IDLE -(Request received)-> SEND_RESPONSE
                          -InformationalResponse*-> SEND_RESPONSE
                          -Response-> SEND_BODY -EndOfMessage-> DONE

A side that is ``DONE`` becomes ``MUST_CLOSE`` as soon as the exchange is known
not to be keep-alive. When both are ``DONE``, :meth:`start_next_cycle` sets
both back to ``IDLE``. A protocol error puts the side at fault in ``ERROR``.

Switching protocols. A request that offers other protocols (``Connection:
upgrade`` and ``Upgrade: ...``, HTTP/1.1) may be answered, once it is received
in full, by :meth:`~Connection.switch_protocols` instead of a response: it
returns the ``101`` head and both sides go to ``SWITCHED_PROTOCOL`` for good.
The bytes the client sent after the request belong to the new protocol and are
handed back by :attr:`~Connection.trailing_data`. A ``101`` any other way is a
:class:`LocalProtocolError`.

Pipelining. Bytes after a complete request stay in the buffer, untouched, until
:meth:`start_next_cycle`; meanwhile :meth:`next_event` returns :data:`PAUSED`.
So requests are parsed one at a time and responses leave in request order,
and a client cannot make us buffer a second request's body before the first
response is done, as long as the glue stops reading on ``PAUSED``.

Strictness, and why. Most rules below exist because two HTTP parsers (a proxy
in front of us and us) that disagree on where a message ends let an attacker
hide a second request inside the first one ("request smuggling"), or put a
header past a filter. We therefore refuse, rather than repair, anything whose
framing another implementation could read differently:

* Content-Length together with Transfer-Encoding, non-decimal Content-Length
  values, more than one Content-Length even when equal (a list, or a repeated
  field), chunked not last or twice, chunked in HTTP/1.0, bad chunk size lines,
  a chunk extension without a name, a missing CRLF after chunk data (RFC 9112
  6.1, 6.3, 7.1);
* a repeated Content-Type, the other singleton the server reads: which one did
  the app, or a filter in front of it, look at?
* a request-target in a form its method does not take (RFC 9112 3.2): a proxy
  routing on it could read it differently;
* obs-fold, whitespace between a field name and its colon, bare CR, control
  characters and NUL: each is parsed differently by some implementation
  (RFC 9112 2.2, 5.1, 5.2), and a NUL or CR in a value can truncate or split a
  header in a downstream C program;
* more or fewer than one Host in HTTP/1.1 (RFC 9112 3.2): virtual-host routing
  and cache keys must agree with the proxy's;
* framing or routing fields in a trailer section: they must never act after
  the head was accepted.

Line endings. RFC 9112 2.2 lets a recipient accept a bare LF as a line end. We
do not: the head must use CRLF, and a bare LF is a 400, as is a bare CR. A
front proxy that treats LF as a line end while another hop does not is a
classic smuggling setup, and accepting one set of endings keeps the head a
single ``find(b"\\r\\n\\r\\n")`` plus one ``split``, which is also why it is
fast. Clients that send LF-only heads (hand-typed netcat) get a prompt 400 as
soon as an LF-only blank line is buffered, not a timeout. Leading empty lines
(CRLF) before a request line are skipped, as RFC 9112 2.2 asks.

Limits (:class:`Limits`) are checked as bytes arrive, so a client that never
ends a line still cannot make us buffer more than the limit.

After a :class:`RemoteProtocolError`, the glue writes :meth:`send_error`'s bytes
(if a response can still be started) and closes. :class:`LocalProtocolError`
from :meth:`send` means the application misused the API; for a bad response
head nothing was emitted and the state is unchanged, so a 500 can still be
sent; in the middle of a body the connection must be closed.
"""

from __future__ import annotations

import re

from ._errors import LocalProtocolError, RemoteProtocolError
from ._events import (
    NEED_DATA,
    PAUSED,
    ConnectionClosed,
    Data,
    EndOfMessage,
    Event,
    HeadersInput,
    InformationalResponse,
    Request,
    Response,
    Signal,
)
from ._headers import TOKEN
from ._limits import Limits
from ._readers import (
    END_OF_MESSAGE,
    BodyReader,
    check_partial_head,
    parse_request_head,
    valid_request_line,
)
from ._state import State
from ._writers import (
    SENT_IN_FULL,
    BodyWriter,
    ChunkedWriter,
    build_informational_head,
    build_response_head,
    build_switching_head,
    continue_head,
    render_error_response,
    render_response_head,
)

__all__ = ["Connection"]

IDLE = State.IDLE
SEND_RESPONSE = State.SEND_RESPONSE
SEND_BODY = State.SEND_BODY
DONE = State.DONE
MUST_CLOSE = State.MUST_CLOSE
CLOSED = State.CLOSED
ERROR = State.ERROR
SWITCHED_PROTOCOL = State.SWITCHED_PROTOCOL
_DEFAULT_LIMITS = Limits()
#: A protocol in ``Upgrade`` (RFC 9110 7.8): a token, then optionally ``/`` and a version.
_PROTOCOL = re.compile(b"%s(?:/%s)?" % (TOKEN.pattern, TOKEN.pattern))


class Connection:
    """The server side of one HTTP/1.1 connection: bytes in, events out, and back.

    One instance per accepted socket; not thread-safe, not reentrant.
    """

    __slots__ = (
        "_buffer",
        "_eof",
        "_error",
        "_head_request",
        "_http_11",
        "_keep_alive",
        "_offered_protocols",
        "_reader",
        "_search_from",
        "_waiting_for_continue",
        "_writer",
        "limits",
        "our_state",
        "their_state",
    )

    def __init__(self, limits: Limits | None = None) -> None:
        #: The limits this connection enforces.
        self.limits = _DEFAULT_LIMITS if limits is None else limits
        #: The server's (our) side of the cycle.
        self.our_state = IDLE
        #: The client's (their) side of the cycle.
        self.their_state = IDLE
        self._buffer = bytearray()
        self._eof = False
        self._search_from = 0
        self._error: RemoteProtocolError | None = None
        # _reset_cycle, inlined (a connection per request when clients close).
        self._reader: BodyReader | None = None
        self._writer: BodyWriter | None = None
        self._keep_alive = True
        self._http_11 = True
        self._head_request = False
        self._waiting_for_continue = False
        self._offered_protocols: bytes | None = None

    def _reset_cycle(self) -> None:
        self._reader = None
        self._writer = None
        self._keep_alive = True
        self._http_11 = True
        self._head_request = False
        self._waiting_for_continue = False
        self._offered_protocols = None

    # -- state -------------------------------------------------------------------

    @property
    def must_close(self) -> bool:
        """Whether the connection must be closed once the current response is sent."""
        return (
            not self._keep_alive
            or self.our_state in (MUST_CLOSE, CLOSED, ERROR)
            or (self.their_state in (MUST_CLOSE, CLOSED, ERROR))
        )

    @property
    def has_unparsed_input(self) -> bool:
        """Whether received bytes, or the EOF, wait to be parsed: when False,
        :meth:`next_event` would say :data:`NEED_DATA` after the current message
        (a cheaper question than asking it)."""
        return bool(self._buffer) or self._eof

    @property
    def receiving_body(self) -> bool:
        """Whether the request whose head was parsed has a body still to be read."""
        return self.their_state is SEND_BODY and self._reader is not None

    @property
    def sends_trailers(self) -> bool:
        """Whether the body being sent can carry trailer fields (it is chunked)."""
        return type(self._writer) is ChunkedWriter

    @property
    def trailing_data(self) -> tuple[bytes, bool]:
        """The received bytes not parsed yet, and whether EOF was received."""
        return bytes(self._buffer), self._eof

    @property
    def client_is_waiting_for_100_continue(self) -> bool:
        """Whether the client sent ``Expect: 100-continue`` and still waits for it."""
        return (
            self._waiting_for_continue
            and self.our_state is SEND_RESPONSE
            and self.their_state is SEND_BODY
        )

    def _settle(self) -> None:
        """Move ``DONE`` sides to ``MUST_CLOSE`` once keep-alive is off."""
        if not self._keep_alive:
            if self.our_state is DONE:
                self.our_state = MUST_CLOSE
            if self.their_state is DONE:
                self.their_state = MUST_CLOSE

    def start_next_cycle(self) -> None:
        """Reuse the connection for the next (possibly already buffered) request.

        Only legal once the request and the response are both complete and the
        exchange was keep-alive (both states ``DONE``).
        """
        if self.our_state is not DONE or self.their_state is not DONE:
            raise LocalProtocolError(
                f"cannot start a new cycle with our_state={self.our_state.name} "
                f"and their_state={self.their_state.name}"
            )
        self.our_state = IDLE
        self.their_state = IDLE
        self._reset_cycle()

    # -- receiving ---------------------------------------------------------------

    def receive_data(self, data: bytes) -> None:
        """Add bytes read from the socket; ``b""`` means the client closed (EOF)."""
        if data:
            if self._eof:
                raise LocalProtocolError("received data after EOF")
            self._buffer += data
        else:
            self._eof = True

    def next_event(self) -> Event | Signal:
        """Return the next event, :data:`NEED_DATA` or :data:`PAUSED`.

        Raises :class:`RemoteProtocolError` if the client broke the protocol;
        the connection is then in ``ERROR`` and every later call raises again.
        """
        state = self.their_state
        try:
            if state is IDLE:
                return self._read_head()
            if state is SEND_BODY:
                if self._reader is None:  # no body (most requests): complete already
                    if self._keep_alive:
                        self.their_state = DONE
                    else:  # _settle, inlined
                        self.their_state = MUST_CLOSE
                        if self.our_state is DONE:
                            self.our_state = MUST_CLOSE
                    return END_OF_MESSAGE
                return self._read_body()
        except RemoteProtocolError as error:
            if state is IDLE and error.request_line is None:
                error.request_line = self._buffered_request_line()
            self.their_state = ERROR
            self._keep_alive = False
            self._error = error
            raise
        if state is SWITCHED_PROTOCOL:
            return PAUSED  # what follows is the new protocol's: see trailing_data
        if state is ERROR:
            first = self._error
            assert first is not None
            again = RemoteProtocolError(first.reason, status_code=first.status_code)
            again.request_line = first.request_line
            raise again
        if self._buffer:
            return PAUSED
        if self._eof:
            self.their_state = CLOSED  # from DONE or MUST_CLOSE (IDLE: in _read_head)
            self._keep_alive = False
            self._settle()
            return ConnectionClosed()
        return NEED_DATA

    def _read_head(self) -> Request | ConnectionClosed | Signal:
        buffer = self._buffer
        if buffer.startswith(b"\r\n"):
            while buffer.startswith(b"\r\n"):  # RFC 9112 2.2: skip empty lines before a request
                del buffer[:2]
            self._search_from = 0
        end = buffer.find(b"\r\n\r\n", self._search_from)
        limits = self.limits
        if end < 0:
            check_partial_head(buffer, limits, self._search_from)
            if self._eof:
                if buffer:
                    raise RemoteProtocolError("connection closed in the middle of a request head")
                self.their_state = CLOSED
                self._keep_alive = False
                return ConnectionClosed()
            self._search_from = max(0, len(buffer) - 3)
            return NEED_DATA
        if end > limits.max_head_size:
            raise RemoteProtocolError("request head too large", status_code=431)
        head = bytes(buffer[:end])
        # Parsed before it leaves the buffer: a refused head's request line is
        # read from there (see _buffered_request_line).
        request, reader = parse_request_head(head, limits)
        del buffer[: end + 4]
        self._search_from = 0
        self._reader = reader
        self._keep_alive = request.keep_alive
        self._http_11 = request.http_version == b"1.1"
        self._head_request = request.method == b"HEAD"
        self._waiting_for_continue = request.expects_continue and reader is not None
        self._offered_protocols = request.upgrade
        self.their_state = SEND_BODY
        if self.our_state is IDLE:
            self.our_state = SEND_RESPONSE
        return request

    def _buffered_request_line(self) -> bytes | None:
        """The request line at the front of the buffer, if it is whole and valid.

        Called when a head is refused: what was understood of the request goes with
        the error (:attr:`RemoteProtocolError.request_line`), for the logs.
        """
        limit = self.limits.max_request_line
        end = self._buffer.find(b"\r\n", 0, limit + 2)  # within the line's limit
        if end < 0:
            return None
        return valid_request_line(bytes(self._buffer[:end]))

    def _read_body(self) -> Data | EndOfMessage | Signal:
        reader = self._reader
        assert reader is not None  # a request without a body ends in next_event
        event = reader.read(self._buffer)
        if event is None:
            if self._eof:
                raise RemoteProtocolError("connection closed before the request body ended")
            return NEED_DATA
        self._waiting_for_continue = False
        if type(event) is EndOfMessage:
            self.their_state = DONE
            if not self._keep_alive:
                self._settle()
        return event

    # -- sending -----------------------------------------------------------------

    def send(self, event: Event) -> bytes:
        """Return the bytes that carry ``event`` to the client.

        Sends :class:`Response`, :class:`Data`, :class:`EndOfMessage`,
        :class:`InformationalResponse` and :class:`ConnectionClosed` (which
        returns ``b""`` and marks our side closed). Raises
        :class:`LocalProtocolError` if HTTP/1.1 forbids it in the current state.
        """
        kind = type(event)
        state = self.our_state
        if kind is Data or kind is EndOfMessage:
            legal = state is SEND_BODY
        elif kind is Response or kind is InformationalResponse:
            legal = state is SEND_RESPONSE
        else:  # ConnectionClosed ends any state but these two; anything else is no event
            legal = (
                kind is ConnectionClosed and state is not ERROR and state is not SWITCHED_PROTOCOL
            )
        if not legal:
            raise LocalProtocolError(f"cannot send {kind.__name__} in state {state.name}")
        if kind is Data:
            assert self._writer is not None
            try:
                return self._writer.write(event.data)  # type: ignore[union-attr]
            except LocalProtocolError:
                self.our_state = ERROR
                raise
        if kind is Response:
            return self._send_response(event)  # type: ignore[arg-type]
        if kind is EndOfMessage:
            assert self._writer is not None
            try:
                data = self._writer.end(event.trailers)  # type: ignore[union-attr]
            except LocalProtocolError:
                self.our_state = ERROR
                raise
            self.our_state = DONE
            self._settle()
            return data
        if kind is InformationalResponse:
            if not self._http_11:
                raise LocalProtocolError("1xx responses cannot be sent to an HTTP/1.0 client")
            data = build_informational_head(event)  # type: ignore[arg-type]
            if event.status_code == 100:  # type: ignore[union-attr]
                self._waiting_for_continue = False
            return data
        self.our_state = CLOSED  # ConnectionClosed
        self._keep_alive = False
        return b""

    def _send_response(self, response: Response) -> bytes:
        keep_alive = self._keep_alive
        if self.their_state is SEND_BODY and self._reader is not None:
            # Answered before the whole request body came (a handler that streams it
            # refused it, or a client waiting for 100-continue that may or may not
            # send it, RFC 9110 10.1.1): only closing leaves no doubt about where the
            # next request starts.
            keep_alive = False
        head, writer, keep_alive = build_response_head(
            response, head_request=self._head_request, http_11=self._http_11, keep_alive=keep_alive
        )
        self._writer = writer
        self._keep_alive = keep_alive
        self._waiting_for_continue = False
        self.our_state = SEND_BODY
        return head

    def send_file_region(self, count: int) -> tuple[bytes, bytes] | None:
        """Account for ``count`` body bytes the glue sends itself, e.g. with ``sendfile``.

        Like ``send(Data(...))`` for bytes this object never sees: returns the
        framing to write before and after them (a chunk's size line and CRLF,
        or ``(b"", b"")`` for a Content-Length or close-delimited body), or None
        when the bytes must not be written at all (a response to HEAD, or
        ``count`` 0). Raises :class:`LocalProtocolError` where ``send(Data)``
        would: outside a body, or beyond the declared Content-Length (then our
        side is in ``ERROR``).
        """
        if type(count) is not int or count < 0:
            raise LocalProtocolError(f"a file region's size must be an int >= 0, not {count!r}")
        if self.our_state is not SEND_BODY:
            raise LocalProtocolError(f"cannot send a file region in state {self.our_state.name}")
        assert self._writer is not None
        try:
            return self._writer.frame(count)
        except LocalProtocolError:
            self.our_state = ERROR
            raise

    def send_whole(self, response: Response, body: bytes = b"") -> bytes:
        """Return the bytes of a whole response whose body is known in full.

        The same bytes as ``send(response)``, ``send(Data(body))`` and
        ``send(EndOfMessage())``, in one step: ``Content-Length`` is the body's
        length unless ``response`` gives it (then they must agree), and the body is
        left out where HTTP says so (HEAD, 204, 304; a body given with 204 or 304
        is refused). This is the path of nearly every response, so it is one call.
        Raises :class:`LocalProtocolError`, with nothing changed, when the
        response cannot be sent.
        """
        return self.send_whole_parts(
            response.status_code, response.headers, body, response.reason, response.rendered_fields
        )

    def send_whole_parts(
        self,
        status_code: int,
        headers: HeadersInput,
        body: bytes = b"",
        reason: bytes = b"",
        rendered_fields: bytes = b"",
    ) -> bytes:
        """:meth:`send_whole` for a response given by the fields of a :class:`Response`
        rather than one: what a server calls for nearly every response, so that it
        makes no event object to have it taken apart again."""
        if self.our_state is not SEND_RESPONSE:
            raise LocalProtocolError(f"cannot send Response in state {self.our_state.name}")
        keep_alive = self._keep_alive
        if self.their_state is SEND_BODY and self._reader is not None:
            keep_alive = False  # see _send_response
        head, writer, keep_alive = render_response_head(
            status_code,
            headers,
            reason,
            rendered_fields,
            self._head_request,
            self._http_11,
            keep_alive,
            len(body),
        )
        if writer is SENT_IN_FULL:
            data = head + body if body else head
        else:  # no body on the wire: HEAD drops it, 204 and 304 refuse one
            writer.write(body)
            data = head
        self._writer = writer
        self._keep_alive = keep_alive
        self._waiting_for_continue = False
        if keep_alive:
            self.our_state = DONE
        else:  # _settle, inlined
            self.our_state = MUST_CLOSE
            if self.their_state is DONE:
                self.their_state = MUST_CLOSE
        return data

    def send_continue(self) -> bytes:
        """Return ``100 Continue`` bytes if the client waits for them, else ``b""``.

        Call it whenever the application first asks for the request body: it
        is a no-op for clients that did not ask, once the body has started
        arriving, after it was sent once, and once a final response started.
        """
        if not self.client_is_waiting_for_100_continue:
            return b""
        self._waiting_for_continue = False
        return continue_head()

    def switch_protocols(self, protocol: bytes, headers: HeadersInput = ()) -> bytes:
        """Return the ``101 Switching Protocols`` head that hands the connection to
        *protocol*, and leave HTTP on this connection for good.

        Legal only once a request that offered *protocol* (``Connection: upgrade``
        and *protocol* among the ``Upgrade`` field's values, compared without case)
        was received in full, from an HTTP/1.1 client that did not ask to close, and
        before any response; RFC 9110 7.8 forbids switching to anything else.
        *headers* are the new protocol's fields for the 101 (``Sec-WebSocket-Accept``,
        ...). Raises :class:`LocalProtocolError`, with nothing changed, otherwise.
        Afterwards both states are ``SWITCHED_PROTOCOL``, :meth:`next_event` says
        :data:`PAUSED`, and :attr:`trailing_data` holds the bytes the client sent
        after the request: the first bytes of the new protocol.
        """
        if self.our_state is not SEND_RESPONSE:
            raise LocalProtocolError(
                f"cannot switch protocols in state {self.our_state.name}: a response started"
            )
        offered = self._offered_protocols
        if not self._http_11:
            raise LocalProtocolError("an HTTP/1.0 request cannot switch protocols")
        if offered is None:
            raise LocalProtocolError(
                "cannot switch protocols: the request did not ask to (it needs "
                "'Connection: upgrade' and an 'Upgrade' field)"
            )
        if self.their_state is not DONE:
            raise LocalProtocolError(
                "cannot switch protocols before the whole request is received, or after "
                "the client asked to close"
            )
        if type(protocol) is not bytes or _PROTOCOL.fullmatch(protocol) is None:
            raise LocalProtocolError(f"invalid protocol name {protocol!r}")
        if protocol.lower() not in {item.strip(b" \t").lower() for item in offered.split(b",")}:
            raise LocalProtocolError(
                f"the client offered {offered.decode('latin-1')!r}, not {protocol.decode()!r}"
            )
        head = build_switching_head(protocol, headers)
        self.our_state = SWITCHED_PROTOCOL
        self.their_state = SWITCHED_PROTOCOL
        self._keep_alive = False
        return head

    def send_error(self, error: RemoteProtocolError) -> bytes:
        """Return an error response for ``error`` if one can still be sent, else ``b""``.

        Either way the connection must then be closed: our side is marked
        ``MUST_CLOSE`` (or stays in a later state).
        """
        self._keep_alive = False
        if self.our_state not in (IDLE, SEND_RESPONSE):
            return b""
        self.our_state = MUST_CLOSE
        return render_error_response(
            error.status_code, error.reason, head_request=self._head_request
        )

    def send_failed(self) -> None:
        """Tell the connection the glue could not write; our side becomes ``ERROR``."""
        self.our_state = ERROR
        self._keep_alive = False
