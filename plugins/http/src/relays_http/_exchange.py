"""Requests taken at their parsed head: the native path for other dispatchers.

Theory of operation
-------------------
The usual way a request is served makes a :class:`~relays_http.Request`, a
:class:`~relays_http.Response` and a ``request`` event, and renders whatever the
handlers answer. A dispatcher that speaks another interface (an ASGI adapter, a
proxy) needs none of that: it wants the head as the client sent it and a way to
answer with bytes. A *head taker* (:meth:`relays_http.HTTP.take_heads`) is a
callable the connection asks about each request, given an :class:`Exchange`: the
method, the raw target, the HTTP version and the header list as bytes, the
connection's addresses and scheme (one :class:`ConnectionInfo` per connection,
made when a taker first asks for it: most never do), and a responder. A taker
that returns True owns the request from then on; False leaves it to the usual path.

When takers are asked. A request with no body is offered once its message is
complete (as the ``request`` event is fired); a request with a body at its head,
and its body streams to the taker (:meth:`Exchange.read`, as
:meth:`~relays_http.HTTP.stream_bodies` streams it to handlers). Takers are asked
only while nothing else in the tree wants to see every request: a
``before_request``, ``before_response`` or ``response`` listener, or a
``request`` handler above :data:`~relays.Priority.DISPATCH` (a proxy fix-up,
virtual hosts, the inspector, an access log) makes every request go the usual
way, so those hooks keep seeing all of them. A server without takers pays one
test per request.

What stays the connection's. The framing (Content-Length, chunked, close
delimited), keep-alive and pipelining, ``HEAD`` (no body on the wire), the head
and body deadlines and minimum rates, ``100 Continue`` (sent when the taker first
reads), the limits, and the validation of every header the taker sends (no CR/LF
injection: a head the core refuses is logged and replaced by a plain 500) are
all the connection's, exactly as on the usual path. The exchange only carries
what the taker asks for to the connection (:class:`ExchangeOwner`).

Answering. :meth:`Exchange.respond` sends a whole response in one write.
:meth:`Exchange.start` sends a head; :meth:`Exchange.write` (awaiting the
transport's ``drain``: backpressure) and :meth:`Exchange.send_file` send body
parts; :meth:`Exchange.finish` ends it, with trailers for a client that takes
them; :meth:`Exchange.abort` cuts it short (the client sees an incomplete
message). When the client goes, :attr:`Exchange.gone` turns true, the callbacks
given to :meth:`Exchange.when_gone` run once, and writes and reads raise
:class:`~relays_http.ClientDisconnected`. :meth:`Exchange.dispatch` hands a request
without a body back to the usual path before anything was sent (a taker that found it
needs what only that path gives): the ``request`` event is fired for it then.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from typing import TYPE_CHECKING, Any, Protocol

from ._body import BodyStream, ClientDisconnected

if TYPE_CHECKING:
    from ._files import FileRegion
    from ._request import Request

__all__ = ["ConnectionInfo", "Exchange", "ExchangeOwner", "HeadTaker"]

#: Header pairs as a taker sends them: names and values as bytes, as they are.
ByteFields = Sequence[tuple[bytes, bytes]]


class ConnectionInfo:
    """What one connection's requests share: addresses, scheme, and a taker's notes.

    Made once per connection (on its first exchange). :attr:`notes` is free for
    head takers to keep what they derive from it once (an ASGI scope's ``client``
    and ``server``, say), keyed by something of their own.
    """

    __slots__ = ("client", "notes", "scheme", "sendfile", "server")

    def __init__(self, client: Any, server: Any, scheme: str, *, sendfile: bool) -> None:
        #: The peer's address: ``(host, port)`` for IP, a path or None for UNIX.
        self.client = client
        #: Our own address for this connection.
        self.server = server
        #: ``"http"`` or ``"https"``.
        self.scheme = scheme
        #: Whether the transport sends file regions with ``sendfile`` (else they are
        #: read and written: :meth:`Exchange.send_file` works either way).
        self.sendfile = sendfile
        self.notes: dict[Any, Any] = {}


class ExchangeOwner(Protocol):
    """What an :class:`Exchange` asks of the connection it belongs to."""

    def exchange_connection(self) -> ConnectionInfo:
        """The connection's :class:`ConnectionInfo`, the same object for each of its
        requests (made on first use)."""

    def exchange_respond(
        self, status: int, headers: ByteFields, body: bytes, reason: bytes
    ) -> bool:
        """Send a whole response; False when it could not be (refused, or gone)."""

    def exchange_start(self, status: int, headers: ByteFields, reason: bytes) -> bool:
        """Send a response head; False when it could not be (refused, or gone)."""

    async def exchange_write(self, data: bytes) -> None:
        """Send a body part, then wait until the transport can take more."""

    async def exchange_send_file(self, region: FileRegion) -> None:
        """Send a file region (``sendfile`` where it can)."""

    def exchange_finish(self, trailers: ByteFields) -> None:
        """End the response body (with *trailers* where they may go)."""

    def exchange_abort(self) -> None:
        """Cut the response short and close the connection."""

    def exchange_dispatch(self) -> Request:
        """Serve the request the usual way: make its ``Request``, fire ``request``."""


class Exchange:
    """One request taken at its head, and its responder; see the theory of operation.

    Everything about the head is as the client sent it: :attr:`method` (case
    kept), :attr:`target` (path and query, percent-encoded), :attr:`http_version`
    (``b"1.1"`` or ``b"1.0"``) and :attr:`headers` (lower-cased names, stripped
    values, in order).
    """

    __slots__ = (
        "_body",
        "_chunks",
        "_gone_callbacks",
        "_owner",
        "_state",
        "gone",
        "has_body",
        "headers",
        "http_version",
        "method",
        "over",
        "target",
        "upgrade",
        "upgrade_field",
    )

    def __init__(
        self,
        owner: ExchangeOwner,
        method: bytes,
        target: bytes,
        http_version: bytes,
        headers: list[tuple[bytes, bytes]],
        upgrade: bytes | None,
        upgrade_field: bytes | None,
        body: BodyStream | None,
    ) -> None:
        self._owner = owner
        self.method = method
        self.target = target
        self.http_version = http_version
        self.headers = headers
        #: The protocols an HTTP/1.1 client offers to switch to (``Upgrade``), or None.
        self.upgrade = upgrade
        #: The ``Upgrade`` field as sent, whatever ``Connection`` says, or None: a
        #: taker that leaves every upgrade request (broken ones included) to the
        #: usual path tests this, with no look through :attr:`headers`.
        self.upgrade_field = upgrade_field
        #: Whether the request has a body to :meth:`read` (else :meth:`read` gives b"").
        self.has_body = body is not None
        self._body = body
        self._chunks: AsyncIterator[bytes] | None = None
        # 0: nothing sent; 1: the head went out; 2: the response is over.
        self._state = 0
        #: Whether the client went away before the response was over (read it: the
        #: connection says so, :meth:`client_gone`).
        self.gone = False
        #: Whether the response was sent in full, cut short, or can no longer be sent
        #: (the client went). Read it: the exchange keeps it.
        self.over = False
        self._gone_callbacks: list[Callable[[], None]] | None = None

    @property
    def connection(self) -> ConnectionInfo:
        """The connection's addresses and scheme (:class:`ConnectionInfo`).

        Asked of the connection on first use: a hello page never needs it, and a short
        connection (one request, ``Connection: close``) would pay for it on every request.
        """
        return self._owner.exchange_connection()

    def __repr__(self) -> str:
        return f"<Exchange {self.method.decode('latin-1')} {self.target.decode('latin-1')}>"

    def header(self, name: bytes) -> bytes | None:
        """The first value of the field *name* (lower-case bytes), or None."""
        for field, value in self.headers:
            if field == name:
                return value
        return None

    # -- the request body --------------------------------------------------------------

    async def read(self) -> bytes:
        """The next part of the request body as it arrives; ``b""`` at its end.

        The first call sends ``100 Continue`` to a client waiting for it. Raises
        :class:`~relays_http.ClientDisconnected` when the client goes, and the
        :class:`~relays_http.HTTPError` the body was refused with (too large, too
        slow: the connection has answered it and closes).
        """
        body = self._body
        if body is None:
            return b""
        chunks = self._chunks
        if chunks is None:
            chunks = self._chunks = body.take()
        try:
            return await anext(chunks)
        except StopAsyncIteration:
            self._body = None
            return b""

    # -- the client going --------------------------------------------------------------

    def when_gone(self, callback: Callable[[], None]) -> None:
        """Call *callback* once when the client goes (at once if it has gone)."""
        if self.gone:
            callback()
        elif self._gone_callbacks is None:
            self._gone_callbacks = [callback]
        else:
            self._gone_callbacks.append(callback)

    def client_gone(self) -> None:
        """The connection says the client went away (called by the connection)."""
        if self.over:
            return
        self.gone = self.over = True
        callbacks = self._gone_callbacks
        if callbacks is not None:
            self._gone_callbacks = None
            for callback in callbacks:
                callback()

    def _check_open(self) -> None:
        if self.gone:
            raise ClientDisconnected("the client went away; the response cannot be sent")
        if self._state == 2:
            raise RuntimeError("the response was already sent in full")

    # -- the response ------------------------------------------------------------------

    def respond(
        self, status: int, headers: ByteFields = (), body: bytes = b"", reason: bytes = b""
    ) -> None:
        """Send a whole response, framed with Content-Length, in one write.

        A Content-Length among *headers* must match *body* (or, for ``HEAD``, state
        what ``GET`` would send). Headers the connection refuses (CR or LF in a
        value, a bad framing field) are logged and a plain 500 goes out instead.
        """
        if self.over or self._state:
            self._check_open()
            raise RuntimeError("the response head was already sent: write, then finish")
        self._state = 2
        self.over = True
        self._owner.exchange_respond(status, headers, body, reason)

    def start(self, status: int, headers: ByteFields = (), reason: bytes = b"") -> bool:
        """Send the head of a response whose body follows (:meth:`write`, :meth:`finish`).

        Framed by a Content-Length among *headers* when there is one, else chunked
        (HTTP/1.1) or by closing (HTTP/1.0). False when the head was refused (logged,
        a plain 500 went out instead: the exchange is over) or the client has gone.
        """
        self._check_open()
        if self._state:
            raise RuntimeError("the response head was already sent")
        self._state = 1
        if not self._owner.exchange_start(status, headers, reason):
            self._state = 2
            self.over = True
            return False
        return True

    async def write(self, data: bytes) -> None:
        """Send a part of the body; returns once the transport can take more."""
        self._check_open()
        if self._state != 1:
            raise RuntimeError("start() the response before writing its body")
        await self._owner.exchange_write(data)

    async def send_file(self, region: FileRegion) -> None:
        """Send a :class:`~relays_http.FileRegion` of the body (``sendfile`` where it can)."""
        self._check_open()
        if self._state != 1:
            raise RuntimeError("start() the response before writing its body")
        await self._owner.exchange_send_file(region)

    def finish(self, trailers: ByteFields = ()) -> None:
        """End the body; *trailers* go out when the body is chunked and the client
        said it takes them (``TE: trailers``), else they are dropped."""
        self._check_open()
        if self._state != 1:
            raise RuntimeError("start() the response before finishing it")
        self._state = 2
        self.over = True
        self._owner.exchange_finish(trailers)

    def dispatch(self) -> Request:
        """Hand the request back to the usual path: its :class:`~relays_http.Request` is
        made and the ``request`` event fired for it (hooks included), as if the taker
        had declined it; the handlers' answer is sent. Returns that request.

        For a taker that learns only after taking a request that it wants what the
        usual path gives (its error pages, streamed answers). Only before anything was
        sent, and only for a request without a body (its body is the exchange's).
        """
        self._check_open()
        if self._state:
            raise RuntimeError("the response head was already sent")
        if self.has_body:
            raise RuntimeError("a request with a body cannot be handed back")
        self._state = 2
        self.over = True
        return self._owner.exchange_dispatch()

    def abort(self) -> None:
        """Cut the response short and close the connection (the app failed midway)."""
        if self.over:
            return
        self._state = 2
        self.over = True
        self._owner.exchange_abort()


#: A head taker: given each request's :class:`Exchange`, True to take it.
HeadTaker = Callable[[Exchange], bool]
