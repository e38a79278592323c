"""The HTTP protocol component: transport events in, ``request`` events out, bytes back.

Theory of operation
-------------------
:class:`HTTP` listens on its transport's channel for ``connect``, ``read`` and
``disconnect``. Each connection gets a :class:`Session`: the sans-IO protocol
core (it is a :class:`relays_http._protocol.Connection`, with the glue's fields
added), the request being received, and one deadline (see
:mod:`relays_http._lifecycle`).

Receiving. ``read`` feeds the bytes to the core and pulls events until it needs
more. A request head starts a :class:`Request` (and a ``100 Continue`` goes out
at once if the client waits for one: the core has already refused a
Content-Length over the body limit with a 413, so anything still here is a body
we are going to read). Body data is collected, in memory up to
``spool_threshold``, then in a temporary file. At the end of the message the
``request(request, response)`` event is fired on our channel, and the session is
*busy* until it is answered: :mod:`relays_http._sending` turns the answer into a
response, and :mod:`relays_http._streaming` streams the bodies that are not
known in full.

Pipelining. While busy, the core parses nothing further: bytes of the next
request stay in its buffer and it says ``PAUSED``, at which point we stop reading
from the socket (the back-pressure). When the response is written the core starts
the next cycle (or the connection closes, as the core decides keep-alive),
reading resumes and what was buffered is parsed at once. So requests are answered
one at a time, in order.

Hooks. While something listens for them (checked when the tree changes, so a
server without them pays one flag test), ``before_request(request, response)``
is fired and waited for before ``request`` (an answer from it skips ``request``),
and ``before_response`` before anything is written (see
:mod:`relays_http._sending`). ``response`` (after writing) and ``bad_request``
(a refusal) are fired likewise.

Half-close. When the client shuts down its sending side, the transport fires
``eof(sock)`` (because we listen for it) instead of closing: the core is told
(``receive_data(b"")``) and the connection closes after the responses to what
was received, as a ``ConnectionClosed`` comes out of the core.

Switching protocols. A handler that answers :class:`~relays_http.SwitchProtocols`
gets its ``101`` written (see :mod:`relays_http._sending`), and :meth:`HTTP._switched`
moves the connection from the HTTP sessions to an
:class:`~relays_http._upgrade.UpgradedConnection`: from then on its ``read``,
``eof`` and ``disconnect`` go to the new protocol's handler (see
:mod:`relays_http._upgrade`). A transport event finds its connection among the
sessions first, so HTTP connections pay nothing for this.

Timeouts and stopping are in :mod:`relays_http._lifecycle`. Connections beyond
``max_connections`` get a 503 and are closed at once.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from typing import IO, Any

from relays import BaseComponent, Value, handler
from relays.transports import Connection

from . import _protocol as protocol
from ._lifecycle import (
    BODY,
    HANDLING,
    HEAD,
    IDLE,
    STOPPED_PRIORITY,
    loop_clock,
    stop,
    sweep,
    sweep_interval,
)
from ._limits import Limits
from ._request import Request
from ._response import Response
from ._sending import answer
from ._upgrade import UpgradedConnection, UpgradeHandler
from .events import BadRequestEvent, BeforeRequestEvent, RequestEvent, ResponseEvent

__all__ = ["HTTP", "Session"]

_NEED_DATA = protocol.NEED_DATA
_PAUSED = protocol.PAUSED
_DONE = protocol.State.DONE
_ProtocolRequest = protocol.Request
_Data = protocol.Data
_EndOfMessage = protocol.EndOfMessage

_blank_response = Response._blank
_start_core = protocol.Connection.__init__
_METHODS = {m.encode(): m for m in ("GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS")}


class Session(protocol.Connection):
    """One connection's state; see the theory of operation.

    It is the connection's sans-IO protocol core itself (a subclass: the two are
    always made together, and one object is cheaper to make than two on a server
    where every request is a connection); the fields below are the glue's.
    """

    __slots__ = (
        "body",
        "busy",
        "chunks",
        "closed",
        "deadline",
        "eof",
        "head",
        "http",
        "paused",
        "phase",
        "request",
        "sent",
        "size",
        "sock",
        "started",
        "task",
    )

    def __init__(self, http: HTTP, sock: Connection, limits: Limits) -> None:
        _start_core(self, limits)
        self.http = http
        self.sock = sock
        self.phase = HEAD
        self.deadline = 0.0
        self.busy = False
        self.paused = False
        self.closed = False
        self.eof = False
        self.head: protocol.Request | None = None
        self.chunks: list[bytes] | None = None  # a body's pieces; made by the first
        self.size = 0
        self.body: IO[bytes] | None = None
        self.request: Request | None = None
        self.task: asyncio.Task[None] | None = None
        # When the first byte of the next request head was read (loop time; 0: not yet).
        self.started = 0.0
        # Body bytes of a streamed response, counted while someone watches responses.
        self.sent = 0

    #: The done callback of a ``request`` event's value: respond (see _sending).
    answered = answer

    def prepared(self, value: Value) -> None:
        self.http._prepared(self, value)


class HTTP(BaseComponent):
    """The HTTP/1.1 protocol on a transport's channel (circuits.web's ``HTTP``).

    Register it next to a transport with the same *channel*; it fires
    ``request(request, response)`` on that channel for every request and writes
    what the handlers answer. :class:`~relays_http.BaseServer` does that pairing
    for you. *debug* puts tracebacks into 500 pages: never on a public server.
    When the tree stops, responses in flight get *shutdown_timeout* seconds to
    finish (see the theory of operation).
    """

    channel = "web"

    def __init__(
        self,
        *,
        channel: Any = "web",
        limits: Limits | None = None,
        debug: bool = False,
        server_name: str = "relays",
        shutdown_timeout: float = 4.0,
    ) -> None:
        super().__init__(channel=channel)
        #: Seconds a stop waits for responses in flight before cutting them short.
        self.shutdown_timeout = shutdown_timeout
        self._stopping = False
        #: The limits enforced on every connection.
        self.limits = limits if limits is not None else Limits()
        #: Whether 500 pages show the traceback.
        self.debug = debug
        self._sessions: dict[Connection, Session] = {}
        # Connections handed to another protocol (see _switched): no longer HTTP's.
        self._upgraded: dict[Connection, UpgradedConnection] = {}
        self._server_line = b"server: %s\r\n" % server_name.encode("latin-1")
        # The second and the Server and Date lines rendered for it: see
        # _sending._stock_fields.
        self._stock: tuple[float, bytes] = (0.0, b"")
        self._sweeper: asyncio.TimerHandle | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._watch_responses = False
        self._watch_bad_requests = False
        self._watch_before_request = False
        self._watch_before_response = False
        # The loop's clock (see _lifecycle.loop_clock), taken when a sweep starts.
        self._time = time.monotonic
        self._sweep_interval = sweep_interval(self.limits)

    @property
    def connections(self) -> int:
        """The number of open connections (switched to another protocol or not)."""
        return len(self._sessions) + len(self._upgraded)

    # -- transport events ------------------------------------------------------------

    @handler("connect")
    def _on_connect(self, sock: Connection, *address: Any) -> None:
        limits = self.limits
        if len(self._sessions) + len(self._upgraded) >= limits.max_connections:
            reason = "too many connections; retry later"
            sock.write(protocol.render_error_response(503, reason))
            sock.linger()  # its request may be on the way: let the 503 arrive
            if self._watch_bad_requests:
                self.fire(BadRequestEvent(sock, 503, reason, None))
            return
        if self._sweeper is None:  # the first connection since the sessions were empty
            loop = asyncio.get_running_loop()
            self._time = loop_clock(loop)
            self._sweeper = loop.call_later(self._sweep_interval, sweep, self)
        session = Session(self, sock, limits)
        session.deadline = self._time() + limits.header_timeout
        self._sessions[sock] = session

    @handler("read")
    def _on_read(self, sock: Connection, data: bytes) -> None:
        session = self._sessions.get(sock)
        if session is None:
            upgraded = self._upgraded.get(sock)
            if upgraded is not None:
                upgraded.data(data)
            return
        phase = session.phase
        if phase == IDLE:
            now = self._time()
            session.phase = HEAD
            session.deadline = now + self.limits.header_timeout
            session.started = now
        elif session.started == 0.0:  # the first bytes of a head (or of a pipelined one)
            session.started = self._time()
        try:
            session.receive_data(data)
        except protocol.LocalProtocolError:
            return  # data after EOF: nothing we can do with it
        self._process(session)

    @handler("eof")
    def _on_eof(self, sock: Connection) -> None:
        # The client half-closed (HTTP/1.0 clients, ``shutdown(SHUT_WR)``): answer
        # what it sent, then close. The core turns EOF into ``ConnectionClosed`` once
        # the buffered requests are parsed; ``_process`` and ``_sent`` close then.
        session = self._sessions.get(sock)
        if session is None:
            upgraded = self._upgraded.get(sock)
            if upgraded is not None:
                upgraded.eof()  # the new protocol decides when to close
            else:
                sock.close()
            return
        session.eof = True
        session.receive_data(b"")
        if not session.busy and not session.paused:
            self._process(session)

    @handler("disconnect")
    def _on_disconnect(self, sock: Connection) -> None:
        session = self._sessions.pop(sock, None)
        if session is None:
            upgraded = self._upgraded.pop(sock, None)
            if upgraded is not None:
                upgraded.closed(None)
            return
        session.closed = True
        if session.task is not None:
            session.task.cancel()
        if session.request is not None or session.body is not None:
            self._release(session)

    @handler("registered", "unregistered", "started", channel="*")
    def _on_tree_changed(self, *args: Any) -> None:
        # Fire ``response`` and ``bad_request`` events only while somebody listens.
        self._watch_responses = bool(self.handlers("response", self.channel))
        self._watch_bad_requests = bool(self.handlers("bad_request", self.channel))
        self._watch_before_request = bool(self.handlers("before_request", self.channel))
        self._watch_before_response = bool(self.handlers("before_response", self.channel))

    @handler("started", channel="*")
    def _on_started(self, component: BaseComponent) -> None:
        if component is self.root:
            self._stopping = False  # a tree run again serves keep-alive again

    @handler("stopped", channel="*", priority=STOPPED_PRIORITY)
    async def _on_stopped(self, component: BaseComponent) -> None:
        if component is not self.root:
            return
        await stop(self)

    # -- receiving -------------------------------------------------------------------

    def _process(self, session: Session) -> None:
        """Pull events from the protocol core until it needs data or pauses."""
        while True:
            try:
                event = session.next_event()
            except protocol.RemoteProtocolError as error:
                self._refuse(session, error)
                return
            # In the order a request without a body brings them.
            kind = type(event)
            if kind is _ProtocolRequest:
                session.head = event  # type: ignore[assignment]
                session.phase = BODY  # its deadline starts if we wait for the body
                if event.expects_continue:  # type: ignore[union-attr]
                    session.sock.write(session.send_continue())
            elif kind is _EndOfMessage:
                self._dispatch(session)
                if not session._buffer and not session._eof:
                    # What next_event would say now: NEED_DATA, nothing to do while busy.
                    return
            elif event is _NEED_DATA:
                if session.phase == BODY:  # from the head, then between two reads
                    session.deadline = self._time() + self.limits.body_timeout
                return
            elif kind is _Data:
                self._collect(session, event.data)  # type: ignore[union-attr]
            elif event is _PAUSED:
                if not session.paused:
                    session.paused = True
                    session.sock.pause_reading()
                return
            else:  # ConnectionClosed: the client is done sending
                if not session.busy:
                    session.sock.close()
                return

    def _collect(self, session: Session, data: bytes) -> None:
        session.size += len(data)
        body = session.body
        if body is not None:
            body.write(data)
        elif session.size > self.limits.spool_threshold:
            body = session.body = tempfile.TemporaryFile()  # noqa: SIM115 - closed with the request
            for chunk in session.chunks or ():
                body.write(chunk)
            body.write(data)
            session.chunks = None
        elif session.chunks is None:
            session.chunks = [data]
        else:
            session.chunks.append(data)

    def _refuse(self, session: Session, error: protocol.RemoteProtocolError) -> None:
        data = session.send_error(error)
        if data:
            session.sock.write(data)
        session.sock.linger()  # the rest of the refused request may still be coming
        if self._watch_bad_requests:
            # The head is known when the body broke a rule (too large, too slow);
            # for a refused head, the core says what it understood of it.
            head = session.head
            line = error.request_line
            if head is not None:
                line = b"%s %s HTTP/%s" % (head.method, head.target, head.http_version)
            self.fire(BadRequestEvent(session.sock, error.status_code, error.reason, line))

    def _dispatch(self, session: Session) -> None:
        head = session.head
        assert head is not None
        session.head = None
        session.phase = HANDLING
        session.busy = True
        sock = session.sock
        body: bytes | IO[bytes] = b""
        if session.size:  # a body was collected: spooled, or in pieces
            if session.body is not None:
                body = session.body
                session.body.seek(0)
                session.body = None
            else:
                chunks = session.chunks
                if chunks is not None:
                    body = chunks[0] if len(chunks) == 1 else b"".join(chunks)
                    session.chunks = None
            session.size = 0
        # A pipelined request that came in the same read as the one before: now.
        received_at = session.started or self._time()
        session.started = 0.0
        method = _METHODS.get(head.method) or head.method.decode("ascii")
        request = session.request = Request._received(
            method,
            head.target.decode("latin-1"),
            "1.1" if head.http_version == b"1.1" else "1.0",
            head.headers,
            body,
            sock,
            self.limits,
            received_at,
        )
        if self._watch_before_request:
            prepared = self.fire(BeforeRequestEvent(request, _blank_response()))
            prepared.add_done_callback(session.prepared)
        else:
            self.fire(RequestEvent(request, _blank_response())).add_done_callback(session.answered)

    def _prepared(self, session: Session, value: Value) -> None:
        """``before_request`` is done: fire ``request``, unless it answered."""
        request, response = value.event.args
        if session.closed:
            request.close()
        elif value.errors or value.results:
            answer(session, value)
        else:
            self.fire(RequestEvent(request, response)).add_done_callback(session.answered)

    # -- after a response ------------------------------------------------------------

    def _sent(self, session: Session, response: Response, sent: int | None = None) -> None:
        """The whole response is written: next cycle, or close.

        *sent* is the number of body bytes; None for a streamed body, whose bytes
        were counted in ``session.sent`` (-1: not counted).
        """
        request = session.request
        session.request = None
        if sent is None:
            sent = session.sent if session.sent >= 0 else None
        if request is not None and request.method == "HEAD":
            sent = 0
        response.bytes_sent = sent
        if request is not None:
            if request._body is not None or request._form is not None:
                request.close()
            if self._watch_responses:
                self.fire(ResponseEvent(request, response))
        session.busy = False
        if (
            session.our_state is _DONE
            and session.their_state is _DONE
            and not session.closed
            and not self._stopping
        ):
            session.start_next_cycle()
            session.phase = IDLE
            session.deadline = self._time() + self.limits.keep_alive_timeout
            if session.paused:  # the next request is buffered already (pipelining)
                session.paused = False
                session.sock.resume_reading()
                self._process(session)
            elif session.eof:  # half-closed: the core says ConnectionClosed, we close
                self._process(session)
        else:
            session.sock.close()

    # -- switching protocols ---------------------------------------------------------

    def _switched(self, session: Session, handler: UpgradeHandler) -> None:
        """The ``101`` is written: the connection leaves HTTP for *handler*'s protocol.

        The session is forgotten (no HTTP deadline or stop rule applies any more);
        what the client sent after its request goes to the handler, and reading,
        paused if those bytes had made the core say ``PAUSED``, resumes.
        """
        sock = session.sock
        del self._sessions[sock]
        buffered, eof = session.trailing_data
        request = session.request
        session.request = None
        session.busy = False
        sock.busy = False  # a stop waiting for busy connections need not wait for it
        if request is not None:
            if request._body is not None or request._form is not None:
                request.close()
            if self._watch_responses:
                response = Response(status=101)
                response.bytes_sent = 0
                self.fire(ResponseEvent(request, response))
        upgraded = self._upgraded[sock] = UpgradedConnection(sock, handler)
        if session.paused:
            session.paused = False
            sock.resume_reading()
        upgraded.made(buffered, eof)
        if self._stopping:  # switched while the server stops: it does not stay
            self._upgraded.pop(sock, None)
            sock.close()
            upgraded.closed(None)

    def _close_upgraded(self) -> None:
        """The server stops: close the switched connections, telling each handler."""
        upgraded = list(self._upgraded.values())
        self._upgraded.clear()
        for connection in upgraded:
            connection.sock.close()
            connection.closed(None)

    def _release(self, session: Session) -> None:
        if session.request is not None:
            session.request.close()
            session.request = None
        if session.body is not None:
            session.body.close()
            session.body = None
