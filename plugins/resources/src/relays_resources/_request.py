"""``ResourceRequest``: what a resource's ``render`` gets, in Twisted Web's shape.

Theory of operation
-------------------
A :class:`ResourceRequest` wraps relays-http's :class:`~relays_http.Request` and
:class:`~relays_http.Response` and owns one piece of state: the body the resource
writes. Rendering either returns the whole body, or returns ``NOT_DONE_YET`` and
calls :meth:`~ResourceRequest.write` and :meth:`~ResourceRequest.finish` later, from
a timer, another event or a task, always on the event loop's thread.

The written chunks wait in a queue that :meth:`~ResourceRequest.stream` (the async
iterator relays-http sends as a streamed body) empties. relays-http waits for the
socket to drain between two chunks, so a slow client slows the iterator down; a
registered *push* producer is paused when more than ``high_water`` bytes wait and
resumed when fewer than ``low_water`` do, and a *pull* producer is asked for one
more chunk each time the queue is empty.

Taken at the head. The site serves most requests straight from relays-http's
:class:`~relays_http.Exchange` (see :mod:`relays_resources._site`): such a request is
made by :meth:`ResourceRequest.taken`, and its relays-http
:class:`~relays_http.Request` and :class:`~relays_http.Response` are made only when a
resource asks for them (:attr:`~ResourceRequest.http` from the head, no connection
behind it). When the site hands the request back to relays-http's usual path, the
request made there replaces it, and what the resource set on its response is carried
over to the usual path's (:meth:`~ResourceRequest.handed_back`).

The stream ends in one of two ways. After ``finish()`` it sends what is left and
the futures of :meth:`~ResourceRequest.notifyFinish` get ``None``. If the client
goes first (the site hears the connection's ``disconnect`` transport event and
calls :meth:`~ResourceRequest.connection_lost`, or relays-http cancels or closes
the iterator when a write fails): the futures get
:class:`ClientDisconnected`, the producer is stopped, and later writes are dropped
(a timer that still fires after the client left is not an error).
"""

from __future__ import annotations

import asyncio
import collections
import logging
from collections.abc import AsyncIterator, Callable, Sequence
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import parse_qs, unquote_to_bytes

from relays import BaseComponent
from relays_http import Exchange, Request, Response, response_fields
from relays_sessions import Session, session_of

if TYPE_CHECKING:
    from ._encoding import EncoderFactory

__all__ = [
    "DEFAULT_CONTENT_TYPE",
    "DEFAULT_HIGH_WATER",
    "DEFAULT_LOW_WATER",
    "ClientDisconnected",
    "Producer",
    "ResourceRequest",
    "as_bytes",
]

logger = logging.getLogger("relays_resources")

#: Bytes written and not yet sent above which a push producer is paused.
DEFAULT_HIGH_WATER = 256 * 1024
#: Bytes waiting below which a paused push producer is resumed.
DEFAULT_LOW_WATER = 64 * 1024
#: Twisted's default; set a charset yourself (``request.setHeader``) for text.
DEFAULT_CONTENT_TYPE = "text/html"
_DEFAULT_FIELDS = ((b"content-type", DEFAULT_CONTENT_TYPE.encode("ascii")),)


class ClientDisconnected(ConnectionError):
    """The client went away before the response was finished.

    The futures of :meth:`ResourceRequest.notifyFinish` fail with it: stop the work
    that was producing the response (cancel its timer, close its cursor).
    """


class Producer(Protocol):
    """What :meth:`ResourceRequest.registerProducer` accepts (Twisted's IProducer)."""

    def resumeProducing(self) -> None: ...

    def pauseProducing(self) -> None: ...

    def stopProducing(self) -> None: ...


def as_bytes(value: str | bytes) -> bytes:
    """Names and values may be given as ``str`` (UTF-8) or ``bytes``, as in Twisted."""
    return value.encode("utf-8") if isinstance(value, str) else value


class ResourceRequest:
    """One request as resources see it: bytes everywhere, as Twisted Web has it.

    ``method``, ``uri``, ``path`` are bytes; ``args`` maps each query (and, for a
    urlencoded POST, form) name to its list of values; ``prepath`` holds the path
    segments walked so far and ``postpath`` those left. :attr:`http` and
    :attr:`response` are relays-http's objects, for everything else.
    """

    # camelCase is Twisted's API, kept so that resources port as they are.

    def __init__(
        self,
        request: Request,
        response: Response,
        *,
        site: BaseComponent | None = None,
        high_water: int = DEFAULT_HIGH_WATER,
        low_water: int = DEFAULT_LOW_WATER,
    ) -> None:
        self._http: Request | None = request
        self._response: Response | None = response
        #: The :class:`~relays_resources.Site` rendering this request (Twisted's
        #: ``request.site``): a resource reaches the tree through it.
        self.site = site
        self._start(
            request.method.encode("ascii"),
            request.raw_path.encode("latin-1"),
            high_water,
            low_water,
        )

    @classmethod
    def taken(
        cls,
        exchange: Exchange,
        path: bytes,
        *,
        site: BaseComponent | None = None,
        high_water: int = DEFAULT_HIGH_WATER,
        low_water: int = DEFAULT_LOW_WATER,
    ) -> ResourceRequest:
        """The request of *exchange*, a request relays-http offered at its head, whose
        target's *path* (percent-encoded, no query) the caller has split off."""
        self = cls.__new__(cls)
        self._exchange = exchange
        self._http = None
        self._response = None
        self.site = site
        # What the site and respond_taken read of every taken request, set here though
        # the class has the same defaults: CPython 3.11 cannot specialise reading a
        # class attribute through an instance (about 200 instructions each; 0.5% of a
        # short connection), and it can an attribute of the instance.
        self._status = 200
        self._reason = ""
        self._finish_waiters = None
        self.encoders = ()
        self._start(exchange.method, path, high_water, low_water)
        return self

    def _start(self, method: bytes, path: bytes, high_water: int, low_water: int) -> None:
        self.method: bytes = method
        self.path: bytes = path
        self.prepath: list[bytes] = []
        segments = path[1:].split(b"/")
        # find(), not ``b"%" in path``: on bytes, ``in`` first tries its operand as an
        # int and builds (then drops) a TypeError, 1% of a short connection's work.
        self.postpath: list[bytes] = (
            [unquote_to_bytes(part) for part in segments] if path.find(b"%") >= 0 else segments
        )
        if high_water != DEFAULT_HIGH_WATER or low_water != DEFAULT_LOW_WATER:
            self.high_water = high_water
            self.low_water = low_water
        # The rest of the state starts at the class's defaults below: most requests are
        # rendered whole and never change it, so it is not set per request.

    high_water = DEFAULT_HIGH_WATER
    low_water = DEFAULT_LOW_WATER
    #: Whether the response is complete (``finish()`` was called, or it went whole).
    finished = False
    #: The encoder factories of an :class:`~relays_resources.EncodingResourceWrapper`
    #: this request was rendered through: the site compresses its answer with them.
    encoders: Sequence[EncoderFactory] = ()
    _args: dict[bytes, list[bytes]] | None = None
    # The written chunks the stream has not taken, made by the first write (a queue per
    # request was 0.4% of a short connection's instructions, and most never write).
    _chunks: collections.deque[bytes] | None = None
    _waiting = 0  # bytes written and not yet taken by the stream
    # Made when something first waits on it: most answers are rendered whole.
    _wakeup: asyncio.Event | None = None
    _producer: Producer | None = None
    _streaming_producer = False
    _paused = False
    _gone = False
    _failure: BaseException | None = None
    _wrote = False  # anything written, even if the stream took it since
    _finish_waiters: list[asyncio.Future[None]] | None = None
    _on_end: Callable[[], None] | None = None
    #: The exchange of a request taken at its head, until it is answered or handed back.
    _exchange: Exchange | None = None
    # A request taken at its head keeps its status and fields here (bytes, as they go
    # out) until something asks for its Response (a cookie, File, the usual path).
    _status = 200
    _reason = ""
    _fields: list[tuple[bytes, bytes]] | None = None

    @property
    def http(self) -> Request:
        """relays-http's :class:`~relays_http.Request`, for everything else.

        For a request the site took at its head it is made from the head on first
        use (no connection behind it: ``sock`` is None), and replaced by relays-http's
        own if the site hands the request back (see the theory of operation).
        """
        request = self._http
        if request is None:
            exchange = self._exchange
            assert exchange is not None
            info = exchange.connection
            request = self._http = Request(
                exchange.method.decode("ascii"),
                exchange.target.decode("latin-1"),
                http_version=exchange.http_version.decode("ascii"),
                headers=exchange.headers,
                remote=info.client,
                local=info.server,
                scheme=info.scheme,
            )
        return request

    @property
    def response(self) -> Response:
        """relays-http's :class:`~relays_http.Response` the answer goes out as."""
        response = self._response
        if response is None:  # taken at the head: made now, with what was set so far
            response = self._response = Response(status=self._status, reason=self._reason)
            fields = self._fields
            if fields is not None:
                self._fields = None
                headers = response.headers
                for name, value in fields:
                    headers.add(name.decode("latin-1"), value.decode("latin-1"))
        return response

    def handed_back(self, request: Request, response: Response) -> None:
        """The site handed a taken request to relays-http's usual path, which made
        *request* and *response* for it: use them from now on, with what was set on
        the response made before (status, reason, header fields, cookies)."""
        self._exchange = None
        self._http = request
        made, self._response = self._response, response
        if made is None:  # only what was kept here
            response.status = self._status
            response.reason = self._reason
            kept = self._fields
            if kept is not None:
                self._fields = None
                headers = response.headers
                for name, value in kept:
                    headers.add(name.decode("latin-1"), value.decode("latin-1"))
            return
        response.status = made.status
        response.reason = made.reason
        fields = made.headers.allitems()
        if fields:
            headers = response.headers
            for text_name, text_value in fields:
                headers.add(text_name, text_value)
        if made.cookies:
            response.cookies.update(made.cookies)
        response.body = made.body

    def respond_taken(self, body: bytes) -> bool:
        """Send *body* as the whole answer of a request taken at its head, with the
        status, header fields and cookies set on it (``text/html`` when no content type
        was set, as the usual path does); False, sending nothing, when a field cannot
        be sent as bytes (the usual path then answers it)."""
        exchange = self._exchange
        assert exchange is not None
        response = self._response
        fields: Sequence[tuple[bytes, bytes]] | None
        try:
            if response is None:
                status = self._status
                reason = self._reason.encode("latin-1") if self._reason else b""
                fields = self._fields
                if fields is None:
                    fields = _DEFAULT_FIELDS
                else:
                    for name, _ in fields:
                        if name.lower() == b"content-type":
                            break
                    else:
                        fields.append(_DEFAULT_FIELDS[0])
            else:
                status = response.status
                reason = response.reason.encode("latin-1")
                fields = [
                    (name.encode("latin-1"), value.encode("latin-1"))
                    for name, value in response_fields(response, DEFAULT_CONTENT_TYPE)
                ]
        except UnicodeEncodeError:
            return False
        if status == 204 or status == 304:
            body = b""
        self._exchange = None
        exchange.respond(status, fields, body, reason)
        self.finished = True  # sent(), inlined
        if self._finish_waiters:
            self._resolve(None)
        return True

    def hand_back(self) -> Request:
        """Give a request taken at its head to relays-http's usual path; the request
        that path made (see :meth:`relays_http.Exchange.dispatch`)."""
        exchange = self._exchange
        assert exchange is not None
        return exchange.dispatch()

    @property
    def uri(self) -> bytes:
        """The request target as the client sent it (path and query), as bytes."""
        exchange = self._exchange
        if exchange is not None:
            return exchange.target
        return self.http.target.encode("latin-1")

    # -- reading the request --------------------------------------------------

    @property
    def args(self) -> dict[bytes, list[bytes]]:
        """Each query (and, for a urlencoded POST, form) name's values, parsed on
        first use."""
        args = self._args
        if args is None:
            args = self._args = _parse_args(self.http)
        return args

    @property
    def content(self) -> Any:
        """The request body, a file positioned at its start (``request.content.read()``)."""
        return self.http.body

    def getHeader(self, name: str | bytes) -> bytes | None:
        """The value of header *name*, or None."""
        return (self._exchange or self.http).header(as_bytes(name).lower())

    def getAllHeaders(self) -> dict[bytes, bytes]:
        return {
            name.lower().encode("latin-1"): value.encode("latin-1")
            for name, value in self.http.headers.items()
        }

    def getCookie(self, name: str | bytes) -> bytes | None:
        value = self.http.cookies.get(as_bytes(name).decode("latin-1"))
        return None if value is None else value.encode("latin-1")

    def getClientAddress(self) -> Any:
        return self.http.remote

    def isSecure(self) -> bool:
        return self.http.scheme == "https"

    def getRequestHostname(self) -> bytes:
        return (
            self.http.host.rpartition(":")[0].encode("idna")
            if ":" in self.http.host
            else (self.http.host.encode("idna"))
        )

    def prePathURL(self) -> bytes:
        """The URL of the resource being rendered (scheme, host and ``prepath``)."""
        base = f"{self.http.scheme}://{self.http.host}".encode("latin-1")
        return base + b"/" + b"/".join(self.prepath)

    def getSession(self) -> Session:
        """The session of this request, from relays-sessions.

        Register ``Sessions(preload=True)`` on the server (or pass ``sessions=`` to
        :class:`~relays_resources.Site`): resources render synchronously, so the
        session must be loaded before they run.
        """
        return session_of(self.http)

    # -- the response head ----------------------------------------------------

    def setResponseCode(self, code: int, message: str | bytes | None = None) -> None:
        reason = None
        if message is not None:
            reason = message.decode("latin-1") if isinstance(message, bytes) else message
        response = self._response
        if response is None:  # taken at the head: kept here until a Response is needed
            self._status = code
            if reason is not None:
                self._reason = reason
            return
        response.status = code
        if reason is not None:
            response.reason = reason

    @property
    def code(self) -> int:
        response = self._response
        return self._status if response is None else response.status

    def setHeader(self, name: str | bytes, value: str | bytes) -> None:
        if self._response is None:  # taken at the head: fields kept as bytes
            try:
                field = (
                    name if isinstance(name, bytes) else name.encode("latin-1"),
                    value if isinstance(value, bytes) else value.encode("latin-1"),
                )
            except UnicodeEncodeError:
                pass  # not sendable: kept as text, for the usual path to refuse it
            else:
                if self._fields is None:  # the first field: nothing to replace
                    self._fields = [field]
                else:
                    self._set_field(*field)
                return
        self.response.headers[name.decode("latin-1") if type(name) is bytes else name] = (  # type: ignore[index]
            value.decode("latin-1") if type(value) is bytes else value  # type: ignore[assignment]
        )

    def _set_field(self, name: bytes, value: bytes) -> None:
        """What ``Headers.__setitem__`` does, on byte pairs: replace every value of
        *name* (any case) with *value*, in the first one's place."""
        fields = self._fields
        if fields is None:
            self._fields = [(name, value)]
            return
        key = name.lower()
        for index, (each, _) in enumerate(fields):
            if each.lower() == key:
                fields[index] = (name, value)
                fields[index + 1 :] = [f for f in fields[index + 1 :] if f[0].lower() != key]
                return
        fields.append((name, value))

    def addCookie(self, name: str, value: str, **options: Any) -> None:
        """Set a cookie; *options* are :meth:`relays_http.Response.set_cookie`'s."""
        self.response.set_cookie(name, value, **options)

    def redirect(self, url: str | bytes) -> None:
        """Answer ``302 Found`` with ``Location: url`` (then return ``b""``)."""
        self.setResponseCode(302)
        self.setHeader(b"Location", url)

    # -- the body ---------------------------------------------------------------

    def write(self, data: bytes) -> None:
        """Queue *data* to be sent; after ``NOT_DONE_YET``, sent as it comes."""
        if self.finished:
            raise RuntimeError("write() after finish(): the response is complete already")
        if self._gone or not data:
            return
        chunks = self._chunks
        if chunks is None:
            chunks = self._chunks = collections.deque()
        chunks.append(data)
        self._wrote = True
        self._waiting += len(data)
        self._wake()
        if self._streaming_producer and not self._paused and self._waiting > self.high_water:
            self._paused = True
            assert self._producer is not None
            self._producer.pauseProducing()

    def finish(self) -> None:
        """The response is complete: send what is left and end it."""
        if self._gone:
            return
        if self.finished:
            raise RuntimeError("finish() called twice on one request")
        self.finished = True
        self._wake()

    def processingFailed(self, error: BaseException) -> None:
        """Rendering failed after ``NOT_DONE_YET``: answer a 500 when nothing was
        written yet (the error is logged), else cut the response short.

        A cut response ends the stream with *error*, which relays-http logs once and
        answers by closing the connection: the client sees an incomplete message, and
        :meth:`notifyFinish`'s futures fail with *error*.
        """
        if self._gone or self._failure is not None:
            return
        if self.finished:
            logger.error("%r failed after it finished", self, exc_info=error)
            return
        if not self._wrote:
            logger.error("rendering %r failed", self, exc_info=error)
            self.response.headers.clear()
            self.setResponseCode(500)
            self.unregisterProducer()
            self.finish()
            return
        self._failure = error
        self._wake()

    def notifyFinish(self) -> asyncio.Future[None]:
        """A future that gets ``None`` once the response is sent, or fails with
        :class:`ClientDisconnected` when the client goes before that."""
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if self._gone:
            future.set_exception(ClientDisconnected("the client went away"))
        else:
            if self._finish_waiters is None:
                self._finish_waiters = []
            self._finish_waiters.append(future)
        return future

    def registerProducer(self, producer: Producer, streaming: bool) -> None:
        """Let *producer* write the body, paced by the client (Twisted's producers).

        A *streaming* (push) producer writes on its own and is paused and resumed;
        a pull producer writes one chunk each time ``resumeProducing`` is called.
        """
        if self._producer is not None:
            raise RuntimeError("a producer is registered already: unregisterProducer() first")
        self._producer = producer
        self._streaming_producer = streaming
        self._paused = False
        self._wake()

    def unregisterProducer(self) -> None:
        self._producer = None
        self._streaming_producer = False
        self._paused = False

    def written(self) -> bytes | None:
        """The whole body, when it was written and finished before it had to stream."""
        if not self.finished:
            return None
        return b"".join(self._chunks or ())

    def sent(self) -> None:
        """The response left whole (no stream): resolve :meth:`notifyFinish`."""
        self.finished = True
        if self._finish_waiters:
            self._resolve(None)

    def started(self) -> bool:
        """Whether the response head may go: something was written, or it is over."""
        return bool(self._chunks) or self.finished or self._gone

    async def wait_started(self) -> None:
        """Wait for the first write or ``finish()``: the head (status, headers) waits
        for it, so a resource may still set them after returning ``NOT_DONE_YET``."""
        while not self.started():
            producer = self._producer
            if producer is not None and not self._streaming_producer:
                producer.resumeProducing()
                if self.started():
                    return
            await self._wait_for_wakeup()

    async def stream(self) -> AsyncIterator[bytes]:
        """The body as relays-http streams it; see the theory of operation."""
        completed = False
        try:
            while True:
                while (
                    not self._chunks
                    and not self.finished
                    and not self._gone
                    and self._failure is None
                ):
                    producer = self._producer
                    if producer is not None and not self._streaming_producer:
                        producer.resumeProducing()
                        if self._chunks or self.finished:
                            break
                    await self._wait_for_wakeup()
                if self._gone:
                    return
                if not self._chunks:
                    if self._failure is not None:
                        raise self._failure  # after what was written before it
                    completed = True
                    return
                chunk = self._chunks.popleft()
                self._waiting -= len(chunk)
                yield chunk
                if self._paused and self._waiting < self.low_water:
                    self._paused = False
                    assert self._producer is not None
                    self._producer.resumeProducing()
        finally:
            if completed:
                self._resolve(None)
            else:
                self._client_gone(self._failure)
            on_end, self._on_end = self._on_end, None
            if on_end is not None:
                on_end()

    def _wake(self) -> None:
        wakeup = self._wakeup
        if wakeup is not None:
            wakeup.set()

    async def _wait_for_wakeup(self) -> None:
        """Wait for the next write, finish, producer or disconnection (callers check
        their condition before waiting, so a wake-up before the first wait is not lost)."""
        wakeup = self._wakeup
        if wakeup is None:
            wakeup = self._wakeup = asyncio.Event()
        wakeup.clear()
        await wakeup.wait()

    def on_end(self, callback: Callable[[], None]) -> None:
        """Call *callback* once the streamed body has ended, either way (for the site)."""
        self._on_end = callback

    def connection_lost(self) -> None:
        """The client's connection closed: end the stream as if the client left."""
        self._client_gone()
        self._wake()

    def _client_gone(self, failure: BaseException | None = None) -> None:
        """The response ends unfinished: the client left, or (*failure*) it was cut."""
        if self._gone:
            return
        self._gone = True
        if self._chunks:
            self._chunks.clear()
        producer, self._producer = self._producer, None
        if producer is not None:
            producer.stopProducing()
        self._resolve(
            failure or ClientDisconnected("the client went away before the response was finished")
        )

    def _resolve(self, failure: BaseException | None) -> None:
        waiters, self._finish_waiters = self._finish_waiters or (), None
        for future in waiters:
            if future.done():
                continue
            if failure is None:
                future.set_result(None)
            else:
                future.set_exception(failure)

    def __repr__(self) -> str:
        return f"<ResourceRequest {self.method.decode()} {self.uri.decode('latin-1')}>"


def _parse_args(request: Request) -> dict[bytes, list[bytes]]:
    args: dict[bytes, list[bytes]] = {}
    query = request.query_string
    if query:
        _add_pairs(args, query)
    if (
        request.method == "POST"
        and request.content_type == "application/x-www-form-urlencoded"
        and not request.streamed  # a proxied upload: its body is the upstream's
    ):
        _add_pairs(args, request.content.decode("latin-1"))
    return args


def _add_pairs(args: dict[bytes, list[bytes]], encoded: str) -> None:
    """Add the ``name=value`` pairs of *encoded* as bytes, whatever bytes they hold
    (latin-1 maps each byte to one character and back)."""
    pairs = parse_qs(encoded, keep_blank_values=True, encoding="latin-1")
    for name, values in pairs.items():
        args.setdefault(name.encode("latin-1"), []).extend(
            value.encode("latin-1") for value in values
        )
