"""One HTTP connection: what it received, what it owes, and how it answers.

Theory of operation
-------------------
An :class:`HTTPConnection` owns everything about one transport connection while it
speaks HTTP: the sans-IO protocol core (composed in: it owns the buffer, the
framing and the state machine; we only call its methods), the request being
received, its phase and deadline, and the task of a streamed answer. The
``HTTP`` component (:mod:`relays_http._server`) owns the set of connections and
passes each transport event to the right one; what every connection of a server
shares (limits, hooks being watched, the ``Date`` line, the clock, the stop) is
in one :class:`ServerContext` that the component keeps up to date.

Receiving. :meth:`~HTTPConnection.receive` feeds the bytes to the core and pulls
events until it needs more. A request head starts a request (and a ``100
Continue`` goes out at once if the client waits for one: the core has already
refused a Content-Length over the body limit with a 413, so anything still here
is a body we are going to read). Body data is collected, in memory up to
``spool_threshold``, then in a temporary file. At the end of the message the
``request(request, response)`` event is fired, and the connection is *busy*
until it is answered.

Streaming. When the component has stream rules (``HTTP.stream_bodies``) and one
takes the request at its head, the ``request`` event fires at once with a
:class:`~relays_http._body.BodyStream` that ``Data`` events fill instead of
:meth:`~HTTPConnection.collect` (see :mod:`relays_http._body`): no ``100
Continue`` until the handler reads (:meth:`~HTTPConnection.body_wanted`), reading
paused while the handler holds ``stream_read_ahead`` bytes
(:meth:`~HTTPConnection.hold`, :meth:`~HTTPConnection.body_drained`; no body
deadline meanwhile), the stream failed when the body is refused or the client
goes. An answer before the body ended is sent with ``Connection: close`` (the core
decides) and the connection lingers.

Pipelining. While busy, the core parses nothing further: bytes of the next
request stay in its buffer and it says ``PAUSED``, at which point we stop reading
from the socket (the back-pressure). When the response is written the core starts
the next cycle (or the connection closes, as the core decides keep-alive),
reading resumes and what was buffered is parsed. So requests are answered one at
a time, in order. A pipelined request already buffered is parsed only once the
transport's unsent output is below its high-water mark (we await its ``drain``,
when it has one): the transport stops reading while its output is over the mark,
but what it read before could hold hundreds of small requests, and answering
them all for a client that never reads would buffer every answer (a pipelining
flood). So a connection holds at most about one high-water mark of answers.

Answering. The ``request`` event's value is watched (:meth:`~HTTPConnection.answered`);
its first result becomes the response. bytes, str and JSON bodies are framed with
Content-Length and written with a single ``sock.write``. Iterators and async
iterators get their head written here and are streamed by
:func:`relays_http._streaming.stream_body` in a task. ``None`` is a 404, an
:class:`~relays_http.HTTPError` its error page, a
:class:`~relays_http.SwitchProtocols` a ``101`` and a handover (see
:mod:`relays_http._upgrade`), and any exception (a handler's, or a body we cannot
encode) a 500 page, with the traceback only in debug mode. The protocol core
validates every header the app set (no CR/LF injection): a head it refuses is
logged and replaced by a plain 500. When the response is written,
:meth:`~HTTPConnection.finished` starts the next cycle or closes the connection.

Hooks. While something listens for them (the context says so; checked when the
tree changes, so a server without them pays one flag test),
``before_request(request, response)`` is fired and waited for before ``request``
(an answer from it skips ``request``), and ``before_response(request, response,
result)`` after the handlers and before anything is written (a value from it
replaces the answer). ``response`` (after writing) and ``bad_request`` (a
refusal) are fired likewise.

Taken at the head. While the component has head takers
(:meth:`relays_http.HTTP.take_heads`) and nothing watches every request (the
context's ``take_heads`` flag, see :mod:`relays_http._exchange`), each request is
offered to them as an :class:`~relays_http.Exchange` before any ``Request`` is
made: at its head when it has a body (which then streams to the taker through a
``BodyStream``, as above), at its end otherwise. A taker that takes it answers
through the exchange, which calls the ``exchange_*`` methods here: they render
with the same core calls as the usual path (so the same framing, ``HEAD``,
keep-alive and header validation) and end in the same :meth:`~HTTPConnection.finished`.
No ``request``, ``response`` or hook event is fired for it.

Half-close. When the client shuts down its sending side, the core is told
(``receive_data(b"")``) and the connection closes after the responses to what
was received, as a ``ConnectionClosed`` comes out of the core.

Deadlines and stopping: see :mod:`relays_http._lifecycle`; the connection
answers :meth:`~HTTPConnection.expire` and :meth:`~HTTPConnection.stop`.
"""

from __future__ import annotations

import asyncio
import json
import logging
import tempfile
import time
from collections.abc import Callable, Iterator
from functools import partial
from typing import IO, Any

from relays import Event, Handler, Value
from relays.transports import Connection, supports_drain, supports_sendfile

from . import _dateline
from . import _protocol as protocol
from ._body import BodyStream, ClientDisconnected
from ._dateline import DateLine
from ._errors import (
    HTTPError,
    NotFound,
    error_response,
)
from ._exchange import ByteFields, ConnectionInfo, Exchange, HeadTaker
from ._files import FileRegion
from ._lifecycle import BODY, HANDLING, HEAD, IDLE, Deadlines, Shutdown
from ._limits import Limits
from ._request import Request
from ._response import Response
from ._streaming import (
    YIELD_EVERY_BYTES,
    YIELD_EVERY_SECONDS,
    ClientGone,
    accepts_trailers,
    close_iterator,
    send_region,
    stream_body,
)
from ._upgrade import SwitchProtocols, UpgradeHandler
from .events import (
    BadRequestEvent,
    BeforeRequestEvent,
    BeforeResponseEvent,
    RequestEvent,
    ResponseEvent,
)

__all__ = ["HTTPConnection", "ServerContext"]

logger = logging.getLogger("relays.http")

_NEED_DATA = protocol.NEED_DATA
_PAUSED = protocol.PAUSED
_DONE = protocol.State.DONE
_SEND_BODY = protocol.State.SEND_BODY
_ProtocolRequest = protocol.Request
_ProtocolResponse = protocol.Response
_Data = protocol.Data
_EndOfMessage = protocol.EndOfMessage
_END = protocol.EndOfMessage()

_METHODS = {m.encode(): m for m in ("GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS")}
_HTML = b"text/html; charset=utf-8"
_JSON = b"application/json"
_OCTETS = b"application/octet-stream"
_INTERNAL_ERROR = b"500 Internal Server Error\n"
#: The first byte of a TLS handshake record; no HTTP method starts with it.
_TLS_HANDSHAKE = b"\x16"
_TLS_ON_PLAIN = "this port speaks plain HTTP: use an http:// URL (TLS was sent to it)"
#: What the core raises for a response head the app made wrong.
_BAD_HEAD = (protocol.LocalProtocolError, UnicodeEncodeError, TypeError)


def _http_error(error: protocol.RemoteProtocolError) -> HTTPError:
    """The protocol's refusal, as the exception a streaming handler's reader gets."""
    return HTTPError(error.status_code, error.reason)


def _spared(event: Event, handler: Handler) -> bool:
    """Whether *handler* of *event* keeps running when its client goes (``@shielded``)."""
    return isinstance(event, RequestEvent) and event.shields(handler)


class ServerContext:
    """What every connection of one server shares; the ``HTTP`` component owns it.

    Connections read it; only the component changes it (the ``watch_*`` flags when
    the tree changes).
    """

    __slots__ = (
        "date_line",
        "deadlines",
        "debug",
        "fire",
        "hand_over",
        "head_takers",
        "limits",
        "shutdown",
        "stream_rules",
        "take_heads",
        "watch_bad_requests",
        "watch_before_request",
        "watch_before_response",
        "watch_responses",
    )

    def __init__(
        self,
        *,
        limits: Limits,
        debug: bool,
        fire: Callable[[Any], Value],
        hand_over: Callable[[HTTPConnection, UpgradeHandler], None],
        date_line: DateLine,
        deadlines: Deadlines,
        shutdown: Shutdown,
    ) -> None:
        self.limits = limits
        #: Whether 500 pages show the traceback.
        self.debug = debug
        #: The component's ``fire``.
        self.fire = fire
        #: Moves a connection that switched protocols out of HTTP (see _upgrade).
        self.hand_over = hand_over
        self.date_line = date_line
        self.deadlines = deadlines
        self.shutdown = shutdown
        #: Which requests are fired at head time with their body streamed (see
        #: :meth:`relays_http.HTTP.stream_bodies`): empty, none is, for one test a head.
        self.stream_rules: list[Callable[[Request], bool]] = []
        #: Who may take requests at their head (see _exchange), in order.
        self.head_takers: list[HeadTaker] = []
        #: Whether they are asked: there are some, and nothing watches every request.
        self.take_heads = False
        # Whether anything listens for these events (fired only then).
        self.watch_responses = False
        self.watch_bad_requests = False
        self.watch_before_request = False
        self.watch_before_response = False


class HTTPConnection:
    """One connection speaking HTTP; see the theory of operation."""

    __slots__ = (
        "answering",
        "body",
        "busy",
        "can_drain",
        "chunks",
        "closed",
        "context",
        "core",
        "deadline",
        "eof",
        "exchange",
        "head",
        "holding",
        "info",
        "offer_at_end",
        "paused",
        "phase",
        "pipelined",
        "request",
        "sent",
        "size",
        "sock",
        "started",
        "stream",
        "task",
        "unyielded",
        "yielded_at",
    )

    def __init__(self, context: ServerContext, sock: Connection) -> None:
        self.context = context
        #: The transport's handle.
        self.sock = sock
        #: The sans-IO protocol core: this connection's buffer, framing and states.
        self.core = protocol.Connection(context.limits)
        #: Which deadline runs (see _lifecycle): the first head's, from now.
        self.phase = HEAD
        # The clock through a name: ``deadlines.now()`` is a method load CPython 3.11
        # cannot specialise (``now`` holds a function), about 190 instructions.
        clock = context.deadlines.now
        self.deadline = clock() + context.limits.header_timeout
        #: Whether a request is being answered.
        self.busy = False
        # Whether reading is paused because the core said PAUSED (pipelining).
        self.paused = False
        # Whether the request being parsed was buffered behind an earlier one.
        self.pipelined = False
        # Whether the transport has ``drain`` (SupportsDrain); None: not asked yet.
        self.can_drain: bool | None = None
        #: Whether the connection is gone: the transport said so, or we closed it.
        self.closed = False
        # Whether the client half-closed.
        self.eof = False
        self.head: protocol.Request | None = None
        # The request a head taker took (see _exchange), while it is answered.
        self.exchange: Exchange | None = None
        # This connection's addresses and scheme for takers: made when one first asks.
        self.info: ConnectionInfo | None = None
        # Whether the head being received (no body) is offered to takers at its end.
        self.offer_at_end = False
        self.chunks: list[bytes] | None = None  # a body's pieces; made by the first
        self.size = 0
        self.body: IO[bytes] | None = None
        self.request: Request | None = None
        # The request event being answered: cancelled when the client goes.
        self.answering: RequestEvent | None = None
        # The body of a streamed request while it arrives (see _body).
        self.stream: BodyStream | None = None
        # Whether reading is paused because the handler has not taken the stream's
        # read-ahead (backpressure), as opposed to ``paused`` (pipelining).
        self.holding = False
        self.task: asyncio.Task[None] | None = None
        # When the first byte of the next request head was read (loop time; 0: not yet).
        self.started = 0.0
        # Body bytes of a streamed response, counted while someone watches responses.
        self.sent = 0
        # A taker's body bytes written since its writes last yielded to the loop, and
        # when they did (see exchange_write).
        self.unyielded = 0
        self.yielded_at = 0.0

    # -- transport events --------------------------------------------------------------

    def receive(self, data: bytes) -> None:
        """Bytes arrived: parse what they complete."""
        if self.phase == IDLE:
            now = self.context.deadlines.now()
            self.phase = HEAD
            self.deadline = now + self.context.limits.header_timeout
            self.started = now
        elif self.started == 0.0:  # the first bytes of a head (or of a pipelined one)
            clock = self.context.deadlines.now  # see __init__
            self.started = clock()
            if self.phase == HEAD and data[:1] == _TLS_HANDSHAKE:
                # A TLS ClientHello (an https:// URL for a plain port): say so now, not
                # with a 408 once the head times out, as no line end is coming.
                self.refuse(protocol.RemoteProtocolError(_TLS_ON_PLAIN, status_code=400))
                return
        self.pipelined = False
        try:
            self.core.receive_data(data)
        except protocol.LocalProtocolError:
            return  # data after EOF: nothing we can do with it
        self.process()

    def receive_eof(self) -> None:
        """The client half-closed (HTTP/1.0 clients, ``shutdown(SHUT_WR)``): answer
        what it sent, then close. The core turns EOF into ``ConnectionClosed`` once
        the buffered requests are parsed; :meth:`process` and :meth:`finished` close
        then."""
        self.eof = True
        self.core.receive_data(b"")
        if self.stream is not None:  # the body ends short: the core refuses it
            self.process()
        if (
            (self.answering is not None or self.exchange is not None)
            and not self.closed
            and self.left()
        ):
            return
        if not self.busy and not self.paused:
            self.process()

    def left(self) -> bool:
        """EOF while async handlers answer: did the client leave, rather than half-close?

        TCP cannot tell a client that closed (a browser tab, curl interrupted) from
        one that only stopped sending. An HTTP/1.1 client that sent one request and
        nothing after it (not pipelined) has no reason to half-close: it is taken as gone: the
        request's ``disconnected`` is set and its async handlers are cancelled (see
        :mod:`relays_http._cancellation`), and when any was, the connection closes
        with no answer. HTTP/1.0 clients, and clients with requests still buffered
        (pipelined before a half-close), keep the half-close: they are answered.
        """
        exchange = self.exchange
        if exchange is not None:
            # A taker's request: it hears that the client went (as a shielded handler
            # would), and decides; its answer, if any, goes out before the close.
            if (
                exchange.http_version == b"1.1"
                and not self.pipelined
                and not self.core.trailing_data[0]
            ):
                exchange.client_gone()
            return False
        request = self.request
        if (
            request is None
            or request.http_version != "1.1"
            or self.pipelined
            or self.core.trailing_data[0]
        ):
            return False
        request._client_gone()
        answering = self.answering
        assert answering is not None
        if not answering.cancel_handlers(_spared):
            return False  # shielded, or done: the answer goes out, then the close
        self.answering = None
        self.closed = True
        self.sock.close()
        return True

    def lost(self) -> None:
        """The transport closed the connection: stop what still works for it."""
        self.closed = True
        if self.stream is not None:
            self.stream.fail(ClientDisconnected("the client closed the connection"))
            self.stream = None
        if self.request is not None:
            self.request._client_gone()
        exchange = self.exchange
        if exchange is not None:
            self.exchange = None
            exchange.client_gone()
        answering = self.answering
        if answering is not None:  # gone before the answer: stop working on it
            self.answering = None
            answering.cancel_handlers(_spared)
        if self.task is not None:
            self.task.cancel()
        if self.request is not None or self.body is not None:
            self.release()

    def expire(self, now: float) -> None:
        """A sweep looks at the deadline: past it, a 408 (or a quiet close when idle).
        A body arriving below the minimum rate is a 408 too (see _lifecycle)."""
        phase = self.phase
        if phase == HANDLING:
            return
        if now < self.deadline:
            if phase != BODY or not self.context.deadlines.body_too_slow(
                self.size, self.started, now, self.stream
            ):
                return
            reason = "request body arrived too slowly (under min_request_body_rate)"
        elif phase == IDLE:
            self.phase = HANDLING  # expire once
            self.sock.close()
            return
        else:
            reason = f"timed out receiving the request {'head' if phase == HEAD else 'body'}"
        self.phase = HANDLING  # expire once
        self.refuse(protocol.RemoteProtocolError(reason, status_code=408))

    def stop(self) -> None:
        """The server stops: close now when idle, else after the response (which says
        ``Connection: close``); the transport is told to wait (``sock.busy``).

        A request on its way counts as busy: part of its head is here, or bytes the
        transport read wait in ``read`` events not handled yet. Closing then would
        drop a request the client already sent (it sees the connection end with no
        answer), where a keep-alive connection with nothing sent may be closed: its
        client retries.
        """
        if self.busy or self.started or getattr(self.sock, "pending_reads", 0):
            self.sock.busy = True  # part of the transport contract
        else:
            self.sock.close()

    # -- receiving ---------------------------------------------------------------------

    def process(self) -> None:
        """Pull events from the protocol core until it needs data or pauses."""
        core = self.core
        while True:
            try:
                event = core.next_event()
            except protocol.RemoteProtocolError as error:
                self.refuse(error)
                return
            # In the order a request without a body brings them.
            kind = type(event)
            if kind is _ProtocolRequest:
                self.head = event  # type: ignore[assignment]
                self.phase = BODY  # its deadline starts if we wait for the body
                if not self.started:  # read with the request before it (pipelined)
                    self.started = self.context.deadlines.now()
                context = self.context
                if context.take_heads:
                    if not core.receiving_body:
                        # Offered whole, as it is dispatched; with no body to stream, the
                        # stream rules are not asked (one declined is dispatched buffered).
                        self.offer_at_end = True
                        continue
                    if self.offer(has_body=True):
                        continue  # its 100 Continue waits for the taker to read
                if context.stream_rules and self.start_stream():
                    continue  # its 100 Continue waits for the handler to read
                if event.expects_continue:  # type: ignore[union-attr]
                    self.sock.write(core.send_continue())
            elif kind is _EndOfMessage:
                if self.stream is not None:
                    self.stream.end()
                    self.stream = None
                    self.head = None
                    self.phase = HANDLING
                elif self.offer_at_end:
                    self.offer_at_end = False
                    if not self.offer(has_body=False):
                        self.dispatch()
                    elif self.closed:
                        # Taken, answered and closed at once (``Connection: close``):
                        # nothing after it is parsed. One core call less per short
                        # connection (0.8% of relays-resources' instructions).
                        return
                else:
                    self.dispatch()
                # On to next_event: NEED_DATA when nothing else was received, PAUSED
                # when a pipelined request waits (asking the core first would cost a
                # call more for the pipelined case than it saves for the other).
            elif event is _NEED_DATA:
                if self.phase == BODY:  # from the head, then between two reads
                    self.deadline = self.context.deadlines.now() + self.context.limits.body_timeout
                return
            elif kind is _Data:
                stream = self.stream
                if stream is None:
                    self.collect(event.data)  # type: ignore[union-attr]
                elif not stream.feed(event.data):  # type: ignore[union-attr]
                    self.hold()
                    return
            elif event is _PAUSED:
                if not self.paused:
                    self.paused = True
                    self.sock.pause_reading()
                return
            else:  # ConnectionClosed: the client is done sending
                if not self.busy:
                    self.sock.close()
                return

    def collect(self, data: bytes) -> None:
        """Keep a piece of request body: in memory, or spooled past the threshold."""
        self.size += len(data)
        body = self.body
        if body is not None:
            body.write(data)
        elif self.size > self.context.limits.spool_threshold:
            body = self.body = tempfile.TemporaryFile()  # noqa: SIM115 - closed with the request
            for chunk in self.chunks or ():
                body.write(chunk)
            body.write(data)
            self.chunks = None
        elif self.chunks is None:
            self.chunks = [data]
        else:
            self.chunks.append(data)

    def refuse(self, error: protocol.RemoteProtocolError) -> None:
        """The client broke a rule (or a deadline): answer the error and close."""
        data = self.core.send_error(error)
        if data:
            self.sock.write(data)
        self.sock.linger()  # the rest of the refused request may still be coming
        stream = self.stream
        if stream is not None:  # its handler runs: it gets the error, its answer is dropped
            self.stream = None
            self.closed = True
            self.answering = None  # not cancelled: it learns why from the error
            stream.fail(_http_error(error))
        if self.context.watch_bad_requests:
            # The head is known when the body broke a rule (too large, too slow);
            # for a refused head, the core says what it understood of it.
            head = self.head
            line = error.request_line
            if head is not None:
                line = b"%s %s HTTP/%s" % (head.method, head.target, head.http_version)
            self.context.fire(BadRequestEvent(self.sock, error.status_code, error.reason, line))

    def dispatch(self) -> None:
        """The request is complete: fire ``request`` (or ``before_request`` first)."""
        head = self.head
        assert head is not None
        self.head = None
        self.phase = HANDLING
        self.busy = True
        context = self.context
        body: bytes | IO[bytes] = b""
        if self.size:  # a body was collected: spooled, or in pieces
            if self.body is not None:
                body = self.body
                self.body.seek(0)
                self.body = None
            else:
                chunks = self.chunks
                if chunks is not None:
                    body = chunks[0] if len(chunks) == 1 else b"".join(chunks)
                    self.chunks = None
            self.size = 0
        # A pipelined request that came in the same read as the one before: now.
        received_at = self.started or context.deadlines.now()
        self.started = 0.0
        method = _METHODS.get(head.method) or head.method.decode("ascii")
        request = self.request = Request._received(
            method,
            head.target.decode("latin-1"),
            "1.1" if head.http_version == b"1.1" else "1.0",
            head.headers,
            body,
            self.sock,
            context.limits,
            received_at,
        )
        # fire_request, inlined: a call per request is 0.3% of the pipelined row.
        if context.watch_before_request:
            prepared = context.fire(BeforeRequestEvent(request, Response()))
            prepared.add_done_callback(self.prepared)
        else:
            event = self.answering = RequestEvent(request, Response())
            context.fire(event).add_done_callback(self.answered)

    def offer(self, *, has_body: bool) -> bool:
        """Offer the request whose head was parsed to the head takers; True when one
        took it (see _exchange). A request with a body still to come (*has_body*) gets
        a :class:`~relays_http._body.BodyStream` the taker reads."""
        head = self.head
        assert head is not None
        context = self.context
        stream = None
        if has_body:
            stream = self.stream = BodyStream(
                self, context.limits.stream_read_ahead, context.deadlines.body_clock
            )
        exchange = self.exchange = Exchange(
            self,
            head.method,
            head.target,
            head.http_version,
            head.headers,
            head.upgrade,
            head.upgrade_field,
            stream,
        )
        # As if taken before a taker runs: it may answer at once (an eager app task).
        self.busy = True
        started = self.started
        self.started = 0.0
        if stream is None:  # the whole request is here
            self.head = None
            self.phase = HANDLING
        for taker in context.head_takers:
            try:
                if taker(exchange):
                    return True
            except Exception:
                logger.exception("a head taker failed for %r; the request goes on", exchange)
            if exchange.over:  # it answered, then failed: the answer stands
                return True
        self.exchange = None
        self.stream = None
        self.busy = False
        self.started = started
        self.head = head
        if stream is None:
            self.phase = BODY
        return False

    def start_stream(self) -> bool:
        """A head arrived while stream rules exist: when one wants this request, fire
        it now with a :class:`~relays_http._body.BodyStream` to fill, and say True."""
        head = self.head
        assert head is not None
        context = self.context
        received_at = self.started or context.deadlines.now()
        request = Request._received(
            _METHODS.get(head.method) or head.method.decode("ascii"),
            head.target.decode("latin-1"),
            "1.1" if head.http_version == b"1.1" else "1.0",
            head.headers,
            b"",
            self.sock,
            context.limits,
            received_at,
        )
        try:
            wanted = any(rule(request) for rule in context.stream_rules)
        except Exception:
            logger.exception("a stream rule failed for %r; its body is buffered", request)
            wanted = False
        if not wanted:
            return False
        self.started = 0.0
        self.busy = True
        stream = self.stream = BodyStream(
            self, context.limits.stream_read_ahead, context.deadlines.body_clock
        )
        request._stream_from(stream)
        self.request = request
        self.fire_request(request)
        return True

    def hold(self) -> None:
        """The handler has not taken the stream's read-ahead: stop reading meanwhile
        (no body deadline: it is the handler, not the client, that is slow)."""
        self.holding = True
        self.phase = HANDLING
        self.sock.pause_reading()

    def body_wanted(self) -> None:
        """The handler reads a streamed body: a client that waits for 100 gets it now."""
        if not self.closed:
            data = self.core.send_continue()
            if data:
                self.sock.write(data)

    def body_drained(self) -> None:
        """The handler took the stream's read-ahead: read (and parse) again."""
        if not self.holding or self.closed:
            return
        self.holding = False
        self.phase = BODY
        self.deadline = self.context.deadlines.now() + self.context.limits.body_timeout
        self.sock.resume_reading()
        self.process()

    def fire_request(self, request: Request) -> None:
        """Fire ``request`` for *request* (or ``before_request`` first); :meth:`dispatch`
        has this inlined."""
        context = self.context
        if context.watch_before_request:
            prepared = context.fire(BeforeRequestEvent(request, Response()))
            prepared.add_done_callback(self.prepared)
        else:
            event = self.answering = RequestEvent(request, Response())
            context.fire(event).add_done_callback(self.answered)

    def prepared(self, value: Value) -> None:
        """``before_request`` is done: fire ``request``, unless it answered."""
        request, response = value.event.args
        if self.closed:
            request.close()
        elif value.errors or value.results:
            self.answered(value)
        else:
            event = self.answering = RequestEvent(request, response)
            self.context.fire(event).add_done_callback(self.answered)

    # -- answering ---------------------------------------------------------------------

    def answered(self, value: Value) -> None:
        """The ``request`` (or an answering ``before_request``) *value* is done: respond."""
        request, response = value.event.args
        self.answering = None
        if self.closed:
            request.close()
            return
        failed = value.errors
        result = value.result
        if type(result) is list and not failed:  # one handler's list, or several answers
            results = value.results
            result = results[0] if results else None
        if self.context.watch_before_response:
            hook = self.context.fire(BeforeResponseEvent(request, response, result))
            hook.add_done_callback(partial(self._hooked, request, response, result, failed))
            return
        # The usual answers, bytes and str, as _respond sends them, one call sooner.
        kind = type(result)
        if failed or (kind is not bytes and kind is not str):
            self._respond(request, response, result, failed)
            return
        try:
            if kind is bytes:
                self._send_whole(response, result, _OCTETS)
            else:
                self._send_whole(response, result.encode("utf-8"), _HTML)
        except Exception as error:  # as in _respond
            self._send_error(request, response, error)

    def _hooked(
        self, request: Request, response: Response, result: Any, failed: bool, value: Value
    ) -> None:
        """``before_response`` is done: send what it left, or what it replaced."""
        if self.closed:
            request.close()
        elif value.errors:
            self._respond(request, response, value.result, True)
        else:
            results = value.results
            if results:
                result, failed = results[0], False
            self._respond(request, response, result, failed)

    def _respond(self, request: Request, response: Response, result: Any, failed: bool) -> None:
        if failed:  # a handler raised: the kernel reported it (exception event)
            self._send_error(request, response, result, reported=True)
            return
        try:
            kind = type(result)
            if kind is bytes:
                self._send_whole(response, result, _OCTETS)
            elif kind is str:
                self._send_whole(response, result.encode("utf-8"), _HTML)
            elif result is None:
                self._send_error(request, response, NotFound())
            elif isinstance(result, Response):
                self._send_body(request, result, result.body)
            elif isinstance(result, HTTPError):
                self._send_error(request, response, result)
            else:
                self._send_body(request, response, result)
        except Exception as error:  # a body we cannot encode: the app's bug, a 500
            self._send_error(request, response, error)

    def _send_body(self, request: Request, response: Response, body: Any) -> None:
        """Send a body of any type a handler may give (``None`` is empty here)."""
        if body is None:
            self._send_whole(response, b"", None)
        elif isinstance(body, str):
            self._send_whole(response, body.encode("utf-8"), _HTML)
        elif isinstance(body, bytes | bytearray | memoryview):
            self._send_whole(response, bytes(body), _OCTETS)
        elif isinstance(body, dict | list):
            data = json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
            self._send_whole(response, data, _JSON)
        elif isinstance(body, HTTPError):
            self._send_error(request, response, body)
        elif isinstance(body, SwitchProtocols):
            self._switch_protocols(request, body)
        elif hasattr(body, "__aiter__") or isinstance(body, Iterator) or hasattr(body, "__iter__"):
            self._send_stream(response, body)
        else:
            raise TypeError(
                f"a request handler returned {type(body).__name__}; return str, bytes, a dict "
                "or list (JSON), an iterator or async iterator, a Response, an HTTPError or "
                "SwitchProtocols"
            )

    def _fields(
        self, response: Response, content_type: bytes | None
    ) -> list[tuple[bytes | str, bytes | str]]:
        fields: list[tuple[bytes | str, bytes | str]] = []
        headers = response._headers
        if headers is not None:
            for key, name, value in headers._pairs:
                if key == "content-type":
                    content_type = None
                fields.append((name, value))
        if content_type is not None:
            fields.append((b"content-type", content_type))
        if self.context.shutdown.stopping:  # tell keep-alive clients not to send another
            fields.append((b"connection", b"close"))
        cookies = response._cookies
        if cookies:
            for cookie in cookies.values():
                fields.append((b"set-cookie", cookie.render()))
        return fields

    def _send_whole(self, response: Response, body: bytes, content_type: bytes | None) -> None:
        """Write a response with a body known in full, in one write.

        A head the core refuses (the app set a bad field) is logged and replaced by a
        plain 500.
        """
        status = response.status
        if status == 204 or status == 304:
            body = b""
        context = self.context
        # DateLine.lines(), inlined for the same second: a call is 0.25% of a response.
        date_line = context.date_line
        lines = date_line.current
        if _dateline.wall_clock() // 1.0 != date_line.second:
            lines = date_line.lines()
        if (
            response._headers is None
            and not response._cookies
            and content_type is not None
            and not context.shutdown.stopping
        ):
            # No field of the app's: the Date line and the content type are one
            # rendered bytes object (checked by the core once a second), and no
            # field list is made (about 5% of the pipelined row).
            fields: protocol.HeadersInput = ()
            lines = date_line.typed.get(content_type) or date_line.with_content_type(content_type)
        else:
            fields = self._fields(response, content_type)
        try:
            data = self.core.send_whole_parts(
                status,
                fields,
                body,
                response.reason.encode("latin-1") if response.reason else b"",
                lines,
            )
        except _BAD_HEAD as error:
            logger.error("cannot send %r: %s", response, error)
            self._send_internal_error()
            return
        try:  # _written, inlined: nearly every response takes this path
            self.sock.write(data)
        except Exception as error:
            self._write_failed(error)
            return
        self.finished(response, len(body))

    def _send_internal_error(self) -> None:
        """The app's response head was invalid (logged): a plain 500, no app fields.

        Its own fields are constants the core always accepts, so this cannot fail.
        """
        page = Response(status=500)
        fields = self._fields(page, b"text/plain; charset=utf-8")
        head = _ProtocolResponse(500, fields, b"", self.context.date_line.lines())
        if self._written(self.core.send_whole(head, _INTERNAL_ERROR)):
            self.finished(page, len(_INTERNAL_ERROR))

    def _send_stream(self, response: Response, body: Any) -> None:
        """Write the head of a streamed response, then stream *body* in a task."""
        fields = self._fields(response, _OCTETS)
        try:
            head = self.core.send(
                _ProtocolResponse(
                    response.status,
                    fields,
                    response.reason.encode("latin-1"),
                    self.context.date_line.lines(),
                )
            )
        except _BAD_HEAD as error:
            logger.error("cannot send %r: %s", response, error)
            close_iterator(body)
            self._send_internal_error()
            return
        if not self._written(head):
            close_iterator(body)
            return
        counting = self.context.watch_responses  # for response.bytes_sent
        self.sent = 0 if counting else -1
        task = asyncio.get_running_loop().create_task(self._stream(response, body, counting))
        self.task = task
        self.context.shutdown.track(task)

    async def _stream(self, response: Response, body: Any, counting: bool) -> None:
        sock = self.sock
        drain = sock.drain if supports_drain(sock) else None
        try:
            whole = await stream_body(
                sock, self.core, body, drain, self._count if counting else None, self.request
            )
        finally:
            self.task = None
        if whole:
            self.finished(response)

    def _count(self, size: int) -> None:
        self.sent += size

    def _switch_protocols(self, request: Request, switch: SwitchProtocols) -> None:
        """Write the ``101`` the core renders, then hand the connection over.

        A switch the core refuses (the request did not offer the protocol, HTTP/1.0, a
        bad field) is the app's mistake: logged, and a plain 500 goes out instead.
        """
        try:
            head = self.core.switch_protocols(switch.protocol.encode("latin-1"), switch.headers)
        except (*_BAD_HEAD, AttributeError) as error:
            logger.error(
                "cannot switch %s %s to %r: %s", request.method, request.target, switch, error
            )
            self._send_internal_error()
            return
        if self._written(head):
            self.context.hand_over(self, switch.handler)

    def _written(self, data: bytes) -> bool:
        """Write what the core made of a response; False when the transport refused.

        The core counts the response as sent once it made the bytes, so a write that
        fails then (a transport that raises instead of reporting an ``error`` event)
        must not reach the handler's code, which would try to answer a second time:
        the connection is closed instead, and forgotten when it reports closing.
        """
        try:
            self.sock.write(data)
        except Exception as error:
            self._write_failed(error)
            return False
        return True

    def _write_failed(self, error: Exception) -> None:
        logger.warning("writing the response to %r failed (%s); closing", self.sock, error)
        self.core.send_failed()
        self.busy = False
        self.release()
        self.sock.close()

    def _send_error(
        self,
        request: Request,
        response: Response,
        error: BaseException,
        *,
        reported: bool = False,
    ) -> None:
        def report(lines: str) -> None:
            logger.error(
                "request handler failed for %s %s:\n%s", request.method, request.target, lines
            )

        accept = request.header(b"accept")
        page = error_response(
            error,
            response,
            accept=None if accept is None else accept.decode("latin-1"),
            debug=self.context.debug,
            report=None if reported else report,
        )
        self._send_whole(page, page.body, None)

    # -- after a response --------------------------------------------------------------

    def finished(self, response: Response | None, sent: int | None = None) -> None:
        """The whole response is written: next cycle, or close.

        *sent* is the number of body bytes; None for a streamed body, whose bytes
        were counted in ``self.sent`` (-1: not counted). *response* is None for a
        request a head taker answered (see _exchange): it has no ``Response``.
        """
        request = self.request
        self.request = None
        if response is not None:
            if sent is None:
                sent = self.sent if self.sent >= 0 else None
            if request is not None and request.method == "HEAD":
                sent = 0
            response.bytes_sent = sent
        context = self.context
        if self.stream is not None:
            self.end_stream()
        if request is not None:
            request.close()
            if context.watch_responses:
                context.fire(ResponseEvent(request, response))
        self.exchange = None
        self.busy = False
        core = self.core
        if (
            core.our_state is _DONE
            and core.their_state is _DONE
            and not self.closed
            and not context.shutdown.stopping
        ):
            core.start_next_cycle()
            self.phase = IDLE
            self.deadline = context.deadlines.now() + context.limits.keep_alive_timeout
            if self.paused:  # the next request is buffered already (pipelining)
                can_drain = self.can_drain
                if can_drain is None:  # asked once per connection: two calls a request
                    can_drain = self.can_drain = supports_drain(self.sock)
                if can_drain:
                    self._continue_when_drained()
                else:  # _continue, inlined
                    self.paused = False
                    self.pipelined = True
                    self.sock.resume_reading()
                    self.process()
            elif self.eof:  # half-closed: the core says ConnectionClosed, we close
                self.process()
        elif core.their_state is _SEND_BODY and not self.closed:
            # Answered before the whole body came: the client may still be sending.
            if self.holding:
                self.holding = False
                self.sock.resume_reading()
            self.sock.linger()
        else:
            self.closed = True  # by us: nothing more is read or written (see process)
            self.sock.close()

    def end_stream(self) -> None:
        """The request was answered before its body was read in full: it never will be."""
        stream = self.stream
        if stream is not None:
            self.stream = None
            stream.fail(ClientDisconnected("the request was answered before its body was read"))

    # -- answering a taken request (see _exchange) -------------------------------------

    def exchange_connection(self) -> ConnectionInfo:
        """This connection's addresses and scheme, made on a taker's first question: most
        takers answer without asking, and a short connection would pay per request."""
        info = self.info
        if info is None:
            sock = self.sock
            info = self.info = ConnectionInfo(
                sock.peer,
                sock.local,
                "https" if sock.secure else "http",
                sendfile=supports_sendfile(sock),
            )
        return info

    def _taken_fields(self, headers: ByteFields) -> ByteFields:
        if self.context.shutdown.stopping:  # tell keep-alive clients not to send another
            return [*headers, (b"connection", b"close")]
        return headers

    def _refuse_taken_head(self, status: int, error: Exception) -> bool:
        """A taker's head the core refused: logged, and a plain 500 instead; False."""
        logger.error("cannot send the %d response to %r: %s", status, self.exchange, error)
        self.end_stream()
        self._send_internal_error()
        return False

    def exchange_respond(
        self, status: int, headers: ByteFields, body: bytes, reason: bytes
    ) -> bool:
        """Send a taker's whole response in one write (see :meth:`_send_whole`)."""
        if self.closed:
            return False
        date_line = self.context.date_line
        lines = date_line.current
        if _dateline.wall_clock() // 1.0 != date_line.second:
            lines = date_line.lines()
        if self.context.shutdown.stopping:
            headers = self._taken_fields(headers)
        try:
            data = self.core.send_whole_parts(status, headers, body, reason, lines)
        except _BAD_HEAD as error:
            return self._refuse_taken_head(status, error)
        if self.stream is not None:
            self.end_stream()
        try:  # _written, inlined: nearly every taken request ends here
            self.sock.write(data)
        except Exception as error:
            self._write_failed(error)
            return False
        self.finished(None)
        return True

    def exchange_start(self, status: int, headers: ByteFields, reason: bytes) -> bool:
        """Send a taker's response head; its body follows."""
        if self.closed:
            return False
        try:
            head = self.core.send(
                _ProtocolResponse(
                    status, self._taken_fields(headers), reason, self.context.date_line.lines()
                )
            )
        except _BAD_HEAD as error:
            return self._refuse_taken_head(status, error)
        return self._written(head)

    def _exchange_drain(self) -> Callable[[], Any] | None:
        can_drain = self.can_drain
        if can_drain is None:
            can_drain = self.can_drain = supports_drain(self.sock)
        return self.sock.drain if can_drain else None  # type: ignore[attr-defined]

    async def exchange_write(self, data: bytes) -> None:
        """Send a part of a taker's body; wait while the transport's output is full."""
        if self.closed:
            raise ClientDisconnected("the client went away; the response cannot be sent")
        try:
            chunk = self.core.send(_Data(data))
        except protocol.LocalProtocolError:
            self.exchange_abort()  # more than its Content-Length said
            raise
        if not self._written(chunk):
            raise ClientDisconnected("the connection failed; the response cannot be sent")
        drain = self._exchange_drain()
        if drain is None:
            await asyncio.sleep(0)  # no backpressure: let the others run after every part
            return
        try:
            await drain()
        except ConnectionError as error:
            raise ClientDisconnected(str(error)) from error
        # drain() returns at once while the client keeps up: a taker that writes in a
        # loop must still let other clients in now and then (as stream_body does).
        self.unyielded += len(data)
        now = time.monotonic()
        if self.unyielded >= YIELD_EVERY_BYTES or now - self.yielded_at >= YIELD_EVERY_SECONDS:
            await asyncio.sleep(0)
            self.unyielded = 0
            self.yielded_at = time.monotonic()

    async def exchange_send_file(self, region: FileRegion) -> None:
        """Send a file region of a taker's body (see _files)."""
        if self.closed:
            raise ClientDisconnected("the client went away; the response cannot be sent")
        try:
            await send_region(self.core, self.sock, region, self._exchange_drain())
        except ClientGone as error:
            raise ClientDisconnected(str(error)) from error
        except Exception:
            self.exchange_abort()
            raise

    def exchange_finish(self, trailers: ByteFields) -> None:
        """End a taker's body, with its trailers where they may go."""
        if self.closed:
            return
        end = _END
        core = self.core
        if trailers and core.sends_trailers and accepts_trailers(self.exchange):
            end = protocol.EndOfMessage(list(trailers))
        try:
            data = core.send(end)
        except protocol.LocalProtocolError as error:  # short of its Content-Length, say
            logger.error("cannot end the response to %r: %s", self.exchange, error)
            self.exchange_abort()
            return
        self.end_stream()
        if self._written(data):
            self.finished(None)

    def exchange_dispatch(self) -> Request:
        """A taker hands its whole request back: fire ``request`` as :meth:`dispatch` does."""
        exchange = self.exchange
        assert exchange is not None
        self.exchange = None
        method = exchange.method
        request = self.request = Request._received(
            _METHODS.get(method) or method.decode("ascii"),
            exchange.target.decode("latin-1"),
            "1.1" if exchange.http_version == b"1.1" else "1.0",
            exchange.headers,
            b"",
            self.sock,
            self.context.limits,
            self.context.deadlines.now(),
        )
        self.fire_request(request)
        return request

    def exchange_abort(self) -> None:
        """Cut a taker's response short: the client sees an incomplete message."""
        self.exchange = None
        if not self.closed:
            self.core.send_failed()
            self.busy = False
            self.release()
            self.sock.close()

    def _continue(self) -> None:
        """Read again, and parse the pipelined request that is buffered."""
        self.paused = False
        self.pipelined = True
        self.sock.resume_reading()
        self.process()

    def _continue_when_drained(self) -> None:
        """Parse the next pipelined request once our answers are below the transport's
        high-water mark: a client that pipelines and never reads must not make us
        answer everything it sent into memory (see the theory of operation).

        Usually the output is below the mark already, and ``drain()`` returns without
        suspending: it is run here, synchronously, until its first suspension (a
        coroutine that finishes at once raises StopIteration on its first ``send``), so
        the usual case costs no task and no loop turn (a task per pipelined request
        doubled its cost). Only when it would wait does a task await a fresh ``drain()``.
        """
        sock = self.sock
        assert supports_drain(sock)
        attempt = sock.drain()
        try:
            attempt.send(None)
        except StopIteration:
            self._continue()
            return
        except ConnectionError:
            return  # gone: the transport's disconnect cleans up
        attempt.close()  # it would wait: a task waits instead
        task = asyncio.get_running_loop().create_task(self._drained())
        self.task = task
        self.context.shutdown.track(task)

    async def _drained(self) -> None:
        sock = self.sock
        assert supports_drain(sock)
        try:
            await sock.drain()
        except ConnectionError:
            return  # gone: the transport's disconnect cleans up
        finally:
            self.task = None
        if not self.closed:
            self._continue()

    def switched(self) -> tuple[Request | None, bytes, bool]:
        """The connection leaves HTTP (see _upgrade): the request that switched it, the
        bytes the client sent after it, and whether it half-closed. Reading resumes
        if the pipelined bytes had paused it."""
        request = self.request
        self.request = None
        self.busy = False
        buffered, eof = self.core.trailing_data
        if self.paused:
            self.paused = False
            self.sock.resume_reading()
        return request, buffered, eof

    def release(self) -> None:
        """Close the request's body and files (the connection is gone)."""
        if self.request is not None:
            self.request.close()
            self.request = None
        if self.body is not None:
            self.body.close()
            self.body = None
