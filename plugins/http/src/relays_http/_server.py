"""The HTTP protocol component: transport events in, ``request`` events out, bytes back.

Theory of operation
-------------------
:class:`HTTP` listens on its transport's channel for ``connect``, ``read`` and
``disconnect``. Each connection gets a :class:`_Session`: the sans-IO protocol
core (:class:`relays_http._protocol.Connection`), the request being received,
and one deadline.

Receiving. ``read`` feeds the bytes to the core and pulls events until it needs
more. A request head starts a :class:`Request` (and a ``100 Continue`` goes out
at once if the client waits for one: the core has already refused a
Content-Length over the body limit with a 413, so anything still here is a body
we are going to read). Body data is collected, in memory up to
``spool_threshold``, then in a temporary file. At the end of the message the
``request(request, response)`` event is fired on our channel, and the session is
*busy* until it is answered.

Pipelining. While busy, the core parses nothing further: bytes of the next
request stay in its buffer and it says ``PAUSED``, at which point we stop reading
from the socket (the back-pressure). When the response is written the core starts
the next cycle, reading resumes and what was buffered is parsed at once. So
requests are answered one at a time, in order.

Answering. The request event's value is watched. Its first result (see
:class:`~relays_http.events.RequestEvent`) becomes the response: bytes, str and
JSON bodies are framed with Content-Length and written with a single
``sock.write``; iterators and async iterators are streamed by a task that waits
for ``sock.drain()`` (when the transport has it) between chunks. Exceptions become
error pages. The protocol core validates every header the app set (no CR/LF
injection) and decides keep-alive; after the response the connection either
starts the next cycle or closes.

Hooks. While something listens for them (checked when the tree changes, so a
server without them pays one flag test), ``before_request(request, response)``
is fired and waited for before ``request`` (an answer from it skips ``request``),
and ``before_response(request, response, result)`` after the handlers' value is
done and before anything is written (a value from it replaces the answer).
``response`` (after writing) and ``bad_request`` (a refusal) are fired likewise.

Timeouts. A session has one deadline and a *phase* saying what it guards: the
request head (``header_timeout``, from the first byte, or from the connection
for the first request: slowloris), the body (``body_timeout`` between two reads),
or an idle keep-alive connection (``keep_alive_timeout``). Rather than a timer per
connection rescheduled on every read, one ``loop.call_later`` sweep per server
checks all deadlines a few times per shortest timeout: the hot path pays a float
store, not a timer-heap insert and cancel. Expired head and body phases get a 408,
idle connections are just closed. While a handler runs there is no deadline.

Half-close. When the client shuts down its sending side, the transport fires
``eof(sock)`` (because we listen for it) instead of closing: the core is told
(``receive_data(b"")``) and the connection closes after the responses to what
was received, as a ``ConnectionClosed`` comes out of the core.

Stopping. Our ``stopped`` handler runs before the transport's (priority): idle
connections are closed at once; busy ones are marked (``sock.busy``, which
relays-sockets honours by waiting for them) and closed after their response,
which says ``Connection: close``. We wait up to ``shutdown_timeout`` for them,
then cancel what still streams.

Connections beyond ``max_connections`` get a 503 and are closed at once.
"""

from __future__ import annotations

import asyncio
import json
import logging
import tempfile
import time
import traceback
from collections.abc import Awaitable, Callable, Iterator
from email.utils import formatdate
from typing import IO, Any

from relays import BaseComponent, Value, handler
from relays.transports import Connection

from . import _protocol as protocol
from ._errors import HTTPError, InternalServerError, NotFound, prefers_json, render_error_body
from ._files import FileRegion, write_region
from ._limits import Limits
from ._request import Request
from ._response import Response
from .events import (
    BadRequestEvent,
    BeforeRequestEvent,
    BeforeResponseEvent,
    RequestEvent,
    ResponseEvent,
)

__all__ = ["HTTP"]

logger = logging.getLogger("relays.http")

# Session phases: which deadline, if any, is running.
_HANDLING = 0  # a handler is answering: no deadline
_HEAD = 1  # waiting for (the rest of) a request head
_BODY = 2  # waiting for more of a request body
_IDLE = 3  # keep-alive connection between requests

_NEED_DATA = protocol.NEED_DATA
_PAUSED = protocol.PAUSED
_DONE = protocol.State.DONE
_ProtocolRequest = protocol.Request
_Data = protocol.Data
_EndOfMessage = protocol.EndOfMessage
_ConnectionClosed = protocol.ConnectionClosed
_ProtocolResponse = protocol.Response
_END = _EndOfMessage()

_HTML = b"text/html; charset=utf-8"
_JSON = b"application/json"
_OCTETS = b"application/octet-stream"
_METHODS = {m.encode(): m for m in ("GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS")}

_date = [0, b""]


def _date_line() -> bytes:
    """The ``Date`` field line, formatted at most once a second."""
    now = int(time.time())
    if now != _date[0]:
        _date[0] = now
        _date[1] = b"date: %s\r\n" % formatdate(now, usegmt=True).encode("ascii")
    return _date[1]  # type: ignore[return-value]


#: Priority of the ``stopped`` handler: above the transport's, which must see which
#: connections are busy (relays-sockets' runs at -10).
STOPPED_PRIORITY = 10
#: Seconds between two looks for responses still in flight while stopping.
_SHUTDOWN_POLL_INTERVAL = 0.02


def _date_field() -> tuple[bytes, bytes]:
    """The ``Date`` field, formatted at most once a second."""
    now = int(time.time())
    if now != _date[0]:
        _date[0] = now
        _date[1] = (b"date", formatdate(now, usegmt=True).encode("ascii"))
    return _date[1]  # type: ignore[return-value]


class _Session:
    """One connection's state; see the theory of operation."""

    __slots__ = (
        "body",
        "busy",
        "chunks",
        "closed",
        "conn",
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

    def __init__(self, http: HTTP, sock: Connection, conn: protocol.Connection) -> None:
        self.http = http
        self.sock = sock
        self.conn = conn
        self.phase = _HEAD
        self.deadline = 0.0
        self.busy = False
        self.paused = False
        self.closed = False
        self.eof = False
        self.head: protocol.Request | None = None
        self.chunks: list[bytes] = []
        self.size = 0
        self.body: IO[bytes] | None = None
        self.request: Request | None = None
        self.task: asyncio.Task[None] | None = None
        # When the first byte of the next request head was read (loop time; 0: not yet).
        self.started = 0.0
        # Body bytes of a streamed response, counted while someone watches responses.
        self.sent = 0

    def answered(self, value: Value) -> None:
        self.http._answer(self, value)

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
        self._sessions: dict[Connection, _Session] = {}
        self._server_line = b"server: %s\r\n" % server_name.encode("latin-1")
        # Server and Date, rendered once a second: see _stock_fields.
        self._stock: tuple[bytes, bytes] = (b"", b"")
        self._sweeper: asyncio.TimerHandle | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._watch_responses = False
        self._watch_bad_requests = False
        self._watch_before_request = False
        self._watch_before_response = False
        self._time = time.monotonic  # the loop's clock once one runs (see _on_connect)
        timeouts = (
            self.limits.header_timeout,
            self.limits.body_timeout,
            self.limits.keep_alive_timeout,
        )
        self._sweep_interval = min(max(min(timeouts) / 4, 0.02), 1.0)

    @property
    def connections(self) -> int:
        """The number of open connections."""
        return len(self._sessions)

    # -- transport events ------------------------------------------------------------

    @handler("connect")
    def _on_connect(self, sock: Connection, *address: Any) -> None:
        limits = self.limits
        if len(self._sessions) >= limits.max_connections:
            reason = "too many connections; retry later"
            sock.write(protocol.render_error_response(503, reason))
            sock.close()
            if self._watch_bad_requests:
                self.fire(BadRequestEvent(sock, 503, reason, None))
            return
        loop = asyncio.get_running_loop()
        self._time = loop.time
        session = _Session(self, sock, protocol.Connection(limits))
        session.deadline = loop.time() + limits.header_timeout
        self._sessions[sock] = session
        if self._sweeper is None:
            self._sweeper = loop.call_later(self._sweep_interval, self._sweep)

    @handler("read")
    def _on_read(self, sock: Connection, data: bytes) -> None:
        session = self._sessions.get(sock)
        if session is None:
            return
        phase = session.phase
        if phase == _IDLE:
            now = self._time()
            session.phase = _HEAD
            session.deadline = now + self.limits.header_timeout
            session.started = now
        elif phase == _BODY:
            session.deadline = self._time() + self.limits.body_timeout
        elif session.started == 0.0:  # the first bytes of a head (or of a pipelined one)
            session.started = self._time()
        try:
            session.conn.receive_data(data)
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
            sock.close()
            return
        session.eof = True
        session.conn.receive_data(b"")
        if not session.busy and not session.paused:
            self._process(session)

    @handler("disconnect")
    def _on_disconnect(self, sock: Connection) -> None:
        session = self._sessions.pop(sock, None)
        if session is None:
            return
        session.closed = True
        if session.task is not None:
            session.task.cancel()
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
        self._stopping = True
        if self._sweeper is not None:
            self._sweeper.cancel()
            self._sweeper = None
        # Before the transport's own (lower priority) handler looks: idle
        # connections close now, busy ones once their response is out (see _sent),
        # and the transport is told to wait for them.
        for session in list(self._sessions.values()):
            if session.busy:
                session.sock.busy = True  # part of the transport contract
            else:
                session.sock.close()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.shutdown_timeout
        while any(session.busy for session in self._sessions.values()):
            if loop.time() >= deadline:
                logger.warning(
                    "%d response(s) still in flight after %s s; cut short",
                    sum(session.busy for session in self._sessions.values()),
                    self.shutdown_timeout,
                )
                break
            await asyncio.sleep(_SHUTDOWN_POLL_INTERVAL)
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    # -- receiving -------------------------------------------------------------------

    def _process(self, session: _Session) -> None:
        """Pull events from the protocol core until it needs data or pauses."""
        conn = session.conn
        while True:
            try:
                event = conn.next_event()
            except protocol.RemoteProtocolError as error:
                self._refuse(session, error)
                return
            kind = type(event)
            if kind is _Data:
                self._collect(session, event.data)  # type: ignore[union-attr]
            elif kind is _EndOfMessage:
                self._dispatch(session)
            elif kind is _ProtocolRequest:
                session.head = event  # type: ignore[assignment]
                session.phase = _BODY
                session.deadline = self._time() + self.limits.body_timeout
                if event.expects_continue:  # type: ignore[union-attr]
                    session.sock.write(conn.send_continue())
            elif event is _NEED_DATA:
                return
            elif event is _PAUSED:
                if not session.paused:
                    session.paused = True
                    session.sock.pause_reading()
                return
            else:  # ConnectionClosed: the client is done sending
                if not session.busy:
                    session.sock.close()
                return

    def _collect(self, session: _Session, data: bytes) -> None:
        session.size += len(data)
        body = session.body
        if body is not None:
            body.write(data)
        elif session.size > self.limits.spool_threshold:
            body = session.body = tempfile.TemporaryFile()  # noqa: SIM115 - closed with the request
            for chunk in session.chunks:
                body.write(chunk)
            body.write(data)
            session.chunks = []
        else:
            session.chunks.append(data)

    def _refuse(self, session: _Session, error: protocol.RemoteProtocolError) -> None:
        data = session.conn.send_error(error)
        if data:
            session.sock.write(data)
        session.sock.close()
        if self._watch_bad_requests:
            # The head is known when the body broke a rule (too large, too slow).
            head = session.head
            line = None
            if head is not None:
                line = b"%s %s HTTP/%s" % (head.method, head.target, head.http_version)
            self.fire(BadRequestEvent(session.sock, error.status_code, error.reason, line))

    def _dispatch(self, session: _Session) -> None:
        head = session.head
        assert head is not None
        session.head = None
        session.phase = _HANDLING
        session.busy = True
        sock = session.sock
        if session.body is not None:
            body: bytes | IO[bytes] = session.body
            session.body.seek(0)
            session.body = None
        else:
            chunks = session.chunks
            if chunks:
                body = chunks[0] if len(chunks) == 1 else b"".join(chunks)
                session.chunks = []
            else:
                body = b""
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
            prepared = self.fire(BeforeRequestEvent(request, Response()))
            prepared.add_done_callback(session.prepared)
        else:
            self.fire(RequestEvent(request, Response())).add_done_callback(session.answered)

    def _prepared(self, session: _Session, value: Value) -> None:
        """``before_request`` is done: fire ``request``, unless it answered."""
        request, response = value.event.args
        if session.closed:
            request.close()
        elif value.errors or value.results:
            self._answer(session, value)
        else:
            self.fire(RequestEvent(request, response)).add_done_callback(session.answered)

    # -- answering -------------------------------------------------------------------

    def _answer(self, session: _Session, value: Value) -> None:
        request, response = value.event.args
        if session.closed:
            request.close()
            return
        failed = value.errors
        if failed:
            result = value.result
        else:
            results = value.results
            result = results[0] if results else None
        if self._watch_before_response:
            hook = self.fire(BeforeResponseEvent(request, response, result))
            hook.add_done_callback(
                lambda hooked: self._hooked(session, request, response, result, failed, hooked)
            )
            return
        self._respond(session, request, response, result, failed)

    def _hooked(
        self,
        session: _Session,
        request: Request,
        response: Response,
        result: Any,
        failed: bool,
        value: Value,
    ) -> None:
        """``before_response`` is done: send what it left, or what it replaced."""
        if session.closed:
            request.close()
        elif value.errors:
            self._respond(session, request, response, value.result, True)
        else:
            results = value.results
            if results:
                result, failed = results[0], False
            self._respond(session, request, response, result, failed)

    def _respond(
        self, session: _Session, request: Request, response: Response, result: Any, failed: bool
    ) -> None:
        if failed:  # a handler raised: the kernel reported it (exception event)
            self._send_error(session, request, response, result, reported=True)
            return
        try:
            self._send(session, request, response, result)
        except Exception as error:  # a body we cannot encode: the app's bug, a 500
            self._send_error(session, request, response, error)

    def _send(self, session: _Session, request: Request, response: Response, result: Any) -> None:
        kind = type(result)
        if kind is str:
            self._send_app_response(session, response, result.encode("utf-8"), _HTML)
        elif kind is bytes:
            self._send_app_response(session, response, result, _OCTETS)
        elif result is None:
            self._send_error(session, request, response, NotFound())
        elif isinstance(result, Response):
            self._send_body(session, request, result, result.body)
        elif isinstance(result, HTTPError):
            self._send_error(session, request, response, result)
        else:
            self._send_body(session, request, response, result)

    def _send_body(
        self, session: _Session, request: Request, response: Response, body: Any
    ) -> None:
        """Send a body of any type a handler may give (``None`` is empty here)."""
        if body is None:
            self._send_app_response(session, response, b"", None)
        elif isinstance(body, str):
            self._send_app_response(session, response, body.encode("utf-8"), _HTML)
        elif isinstance(body, bytes | bytearray | memoryview):
            self._send_app_response(session, response, bytes(body), _OCTETS)
        elif isinstance(body, dict | list):
            data = json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
            self._send_app_response(session, response, data, _JSON)
        elif isinstance(body, HTTPError):
            self._send_error(session, request, response, body)
        elif hasattr(body, "__aiter__") or isinstance(body, Iterator) or hasattr(body, "__iter__"):
            self._send_stream(session, response, body)
        else:
            raise TypeError(
                f"a request handler returned {type(body).__name__}; return str, bytes, a dict "
                "or list (JSON), an iterator or async iterator, a Response or an HTTPError"
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
        if self._stopping:  # tell keep-alive clients not to send another request
            fields.append((b"connection", b"close"))
        cookies = response._cookies
        if cookies:
            for cookie in cookies.values():
                fields.append((b"set-cookie", cookie.render()))
        return fields

    def _stock_fields(self) -> bytes:
        """``Server`` and ``Date`` lines, one bytes object per second (the core
        checks a rendered value once, so it must be the same object all second)."""
        date = _date_line()
        stock = self._stock
        if stock[0] is not date:
            stock = self._stock = (date, self._server_line + date)
        return stock[1]

    def _send_whole(
        self, session: _Session, response: Response, body: bytes, content_type: bytes | None
    ) -> bool:
        """Write a response with a body known in full; False if its head was invalid."""
        status = response.status
        try:
            head = _ProtocolResponse(
                status,
                self._fields(response, content_type),
                response.reason.encode("latin-1") if response.reason else b"",
                self._stock_fields(),
            )
            data = session.conn.send_whole(head, body if status != 204 and status != 304 else b"")
        except (protocol.LocalProtocolError, UnicodeEncodeError, TypeError) as error:
            logger.error("cannot send %r: %s", response, error)
            return False
        session.sock.write(data)
        self._sent(session, response, len(body) if status != 204 and status != 304 else 0)
        return True

    def _send_app_response(
        self, session: _Session, response: Response, body: bytes, content_type: bytes | None
    ) -> None:
        if not self._send_whole(session, response, body, content_type):
            self._send_internal_error(session)

    def _send_internal_error(self, session: _Session) -> None:
        """The app's response head was invalid (logged): a plain 500, no app fields."""
        body = b"500 Internal Server Error\n"
        page = Response(status=500, content_type="text/plain; charset=utf-8")
        if not self._send_whole(session, page, body, None):  # pragma: no cover - cannot fail
            session.sock.close()

    def _send_stream(self, session: _Session, response: Response, body: Any) -> None:
        conn = session.conn
        fields = self._fields(response, _OCTETS)
        try:
            head = conn.send(
                _ProtocolResponse(
                    response.status,
                    fields,
                    response.reason.encode("latin-1"),
                    self._stock_fields(),
                )
            )
        except (protocol.LocalProtocolError, UnicodeEncodeError, TypeError) as error:
            logger.error("cannot send %r: %s", response, error)
            _close_iterator(body)
            self._send_internal_error(session)
            return
        session.sock.write(head)
        if self._watch_responses:  # count the body bytes for response.bytes_sent
            session.sent = 0
            body = _count_chunks(body, session)
        else:
            session.sent = -1
        task = asyncio.get_running_loop().create_task(self._stream(session, response, body))
        session.task = task
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _stream(self, session: _Session, response: Response, body: Any) -> None:
        conn = session.conn
        sock = session.sock
        drain = getattr(sock, "drain", None)
        if drain is not None:
            drain = _ClientGone.guard(drain)
        try:
            if hasattr(body, "__aiter__"):
                async for chunk in body:
                    if isinstance(chunk, FileRegion):
                        await _send_region(conn, sock, chunk, drain)
                        continue
                    sock.write(conn.send(_Data(_chunk_bytes(chunk))))
                    if drain is not None:
                        await drain()
            else:
                for chunk in body:
                    if isinstance(chunk, FileRegion):
                        await _send_region(conn, sock, chunk, drain)
                        continue
                    sock.write(conn.send(_Data(_chunk_bytes(chunk))))
                    if drain is not None:
                        await drain()
                    else:
                        await asyncio.sleep(0)
            sock.write(conn.send(_END))
        except _ClientGone:
            # An aborted download: nothing to report, and nobody awaits this task,
            # so raising would only make asyncio log "exception never retrieved".
            conn.send_failed()
            sock.close()
            await _aclose_iterator(body)
            return
        except asyncio.CancelledError:
            sock.close()
            await _aclose_iterator(body)
            raise
        except Exception:
            # The head is gone already: all we can do is cut the body short, which
            # the client sees as an incomplete message.
            logger.exception("streaming the response body of %r failed", session.request)
            conn.send_failed()
            sock.close()
            await _aclose_iterator(body)
            return
        finally:
            session.task = None
        self._sent(session, response)

    def _send_error(
        self,
        session: _Session,
        request: Request,
        response: Response,
        error: BaseException,
        *,
        reported: bool = False,
    ) -> None:
        trace = None
        if isinstance(error, HTTPError):
            http_error = error
        else:
            lines = traceback.format_exception(type(error), error, error.__traceback__)
            if not reported:
                logger.error(
                    "request handler failed for %s %s:\n%s",
                    request.method,
                    request.target,
                    "".join(lines),
                )
            http_error = InternalServerError()
            if self.debug:
                trace = "".join(lines)
        accept = request.header(b"accept")
        as_json = accept is not None and prefers_json(accept.decode("latin-1"))
        body, content_type = render_error_body(http_error, as_json=as_json, traceback=trace)
        page = Response(status=http_error.code, headers=http_error.headers)
        page.headers["Content-Type"] = content_type
        page.headers["X-Content-Type-Options"] = "nosniff"
        if response._cookies and http_error.code < 500:
            page._cookies = response._cookies  # a login's cookie survives its Redirect
        self._send_app_response(session, page, body, None)

    def _sent(self, session: _Session, response: Response, sent: int | None = None) -> None:
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
        conn = session.conn
        if (
            conn.our_state is _DONE
            and conn.their_state is _DONE
            and not session.closed
            and not self._stopping
        ):
            conn.start_next_cycle()
            session.phase = _IDLE
            session.deadline = self._time() + self.limits.keep_alive_timeout
            if session.paused:  # the next request is buffered already (pipelining)
                session.paused = False
                session.sock.resume_reading()
                self._process(session)
            elif session.eof:  # half-closed: the core says ConnectionClosed, we close
                self._process(session)
        else:
            session.sock.close()

    def _release(self, session: _Session) -> None:
        if session.request is not None:
            session.request.close()
            session.request = None
        if session.body is not None:
            session.body.close()
            session.body = None

    # -- timeouts --------------------------------------------------------------------

    def _sweep(self) -> None:
        loop = asyncio.get_running_loop()
        now = loop.time()
        for session in list(self._sessions.values()):
            phase = session.phase
            if phase == _HANDLING or now < session.deadline:
                continue
            session.phase = _HANDLING  # expire once
            if phase == _IDLE:
                session.sock.close()
            else:
                what = "request head" if phase == _HEAD else "request body"
                error = protocol.RemoteProtocolError(
                    f"timed out receiving the {what}", status_code=408
                )
                self._refuse(session, error)
        self._sweeper = (
            loop.call_later(self._sweep_interval, self._sweep) if self._sessions else None
        )


class _ClientGone(Exception):
    """Writing a streamed body failed because the client went away.

    Told apart from a ``ConnectionError`` the body iterator raises (an upstream
    that refused, say), which is the app's failure and is logged.
    """

    @staticmethod
    def guard(drain: Callable[[], Awaitable[None]]) -> Callable[[], Awaitable[None]]:
        async def guarded() -> None:
            try:
                await drain()
            except ConnectionError as error:
                raise _ClientGone(str(error)) from error

        return guarded


async def _send_region(
    conn: protocol.Connection,
    sock: Connection,
    region: FileRegion,
    drain: Callable[[], Awaitable[None]] | None,
) -> None:
    """Frame *region* with the core, then let ``write_region`` move its bytes."""
    framing = conn.send_file_region(region.count)
    if framing is None:  # HEAD, or an empty region
        return
    before, after = framing
    if before:
        sock.write(before)
    try:
        await write_region(sock, region, drain)
    except ConnectionError as error:
        raise _ClientGone(str(error)) from error
    if after:
        sock.write(after)


def _count_chunks(body: Any, session: _Session) -> Any:
    """*body*, counting into ``session.sent`` the bytes of each chunk it yields."""
    if hasattr(body, "__aiter__"):
        return _CountedAsyncChunks(body, session)
    return _CountedChunks(body, session)


def _chunk_size(chunk: Any) -> int:
    if type(chunk) is bytes:
        return len(chunk)
    if isinstance(chunk, str):
        return len(chunk) if chunk.isascii() else len(chunk.encode("utf-8"))
    if isinstance(chunk, memoryview):
        return chunk.nbytes
    if isinstance(chunk, FileRegion):
        return chunk.count
    return len(chunk) if isinstance(chunk, bytearray) else 0  # the rest fails in _stream


class _CountedChunks:
    """A streamed body that counts what it yields (see ``_count_chunks``)."""

    __slots__ = ("body", "chunks", "session")

    def __init__(self, body: Any, session: _Session) -> None:
        self.body = body
        self.chunks = iter(body)
        self.session = session

    def __iter__(self) -> _CountedChunks:
        return self

    def __next__(self) -> Any:
        chunk = next(self.chunks)
        self.session.sent += _chunk_size(chunk)
        return chunk

    def close(self) -> None:
        _close_iterator(self.body)


class _CountedAsyncChunks:
    """An async streamed body that counts what it yields (see ``_count_chunks``)."""

    __slots__ = ("body", "chunks", "session")

    def __init__(self, body: Any, session: _Session) -> None:
        self.body = body
        self.chunks = body.__aiter__()
        self.session = session

    def __aiter__(self) -> _CountedAsyncChunks:
        return self

    async def __anext__(self) -> Any:
        chunk = await self.chunks.__anext__()
        self.session.sent += _chunk_size(chunk)
        return chunk

    async def aclose(self) -> None:
        await _aclose_iterator(self.body)


def _chunk_bytes(chunk: Any) -> bytes:
    if type(chunk) is bytes:
        return chunk
    if isinstance(chunk, str):
        return chunk.encode("utf-8")
    if isinstance(chunk, bytearray | memoryview):
        return bytes(chunk)
    raise TypeError(f"a streamed body yielded {type(chunk).__name__}; yield bytes or str")


def _close_iterator(body: Any) -> None:
    close = getattr(body, "close", None)
    if close is not None and not hasattr(body, "__aiter__"):
        close()


async def _aclose_iterator(body: Any) -> None:
    aclose = getattr(body, "aclose", None)
    if aclose is not None:
        try:
            await aclose()
        except Exception:
            logger.exception("closing the streamed body failed")
    else:
        _close_iterator(body)
