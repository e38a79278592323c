"""``Servlet``, ``Page`` and the ``Transaction`` they are given, in Webware's shape.

A servlet instance serves one request at a time and is reused: the application
takes it from its pool, calls ``awake(transaction)``, ``respond(transaction)``
and ``sleep(transaction)`` on a pool thread, then puts it back. ``respond``
calls ``respondToGet``, ``respondToPost``... after the request's method.
:class:`Page` writes an HTML document in parts (``writeHead``, ``writeBody``,
``writeContent``) and turns a form field ``_action_`` into a call of the method
it names, when ``actions()`` lists it.
"""

from __future__ import annotations

import asyncio
import html
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from relays_http import ClientDisconnected, MethodNotAllowed, MultiDict, Request
from relays_sessions import Session, session_of

if TYPE_CHECKING:
    from ._application import Servlets

__all__ = [
    "DEFAULT_FLUSH_LIMIT",
    "HeadersLocked",
    "Page",
    "Servlet",
    "ServletRequest",
    "ServletResponse",
    "Transaction",
]

# Webware's names (respondToGet, writeHTML...) are kept so that servlets port as they are.

#: Bytes flushed and not yet taken by the client above which ``response.flush()``
#: waits: a servlet streaming to a slow reader is held back, never buffered for.
DEFAULT_FLUSH_LIMIT = 256 * 1024


class HeadersLocked(RuntimeError):
    """A header or the status was set after ``response.flush()`` sent them."""


class ServletRequest:
    """The request as a servlet sees it: relays-http's request plus its form fields."""

    def __init__(self, request: Request, fields: MultiDict, extra_path_info: str) -> None:
        #: relays-http's :class:`~relays_http.Request`, for everything else.
        self.http = request
        self._fields = fields
        self._extra_path_info = extra_path_info

    def method(self) -> str:
        return self.http.method

    def path(self) -> str:
        return self.http.path

    def extraURLPath(self) -> str:
        """What follows the servlet's own path (``/Welcome/a/b`` -> ``/a/b``), when the
        application allows extra path info."""
        return self._extra_path_info

    def field(self, name: str, default: str | None = None) -> str | None:
        """The first value of query or form field *name*."""
        return self._fields.get(name, default)

    def hasField(self, name: str) -> bool:
        return name in self._fields

    def fields(self) -> dict[str, str | list[str]]:
        return self._fields.to_dict()

    def cookie(self, name: str, default: str | None = None) -> str | None:
        return self.http.cookies.get(name, default)


class ServletResponse:
    """A buffered response: ``write`` collects, ``flush`` starts streaming.

    Until the first :meth:`flush` the status and headers may change; after it they
    are on the wire and setting them raises :class:`HeadersLocked`. Header names are
    kept in lower case (as relays-http writes them). Written from a pool thread; the
    flushed chunks reach the event loop through a queue holding at most about
    *flush_limit* bytes: past it, :meth:`flush` waits for the client to take some
    (and raises :class:`~relays_http.ClientDisconnected` once the client has gone, so
    the servlet stops producing).
    """

    def __init__(
        self, loop: asyncio.AbstractEventLoop, flush_limit: int = DEFAULT_FLUSH_LIMIT
    ) -> None:
        self.status = 200
        self.headers: dict[str, str] = {"content-type": "text/html; charset=utf-8"}
        self.cookies: list[tuple[str, str, dict[str, Any]]] = []
        self._loop = loop
        self._buffer: list[str | bytes] = []
        self._committed = False
        self._flush_limit = flush_limit
        # The flush queue and its owner state are made by the first flush(), before
        # head_ready tells the loop to read them: most servlets never flush.

    #: Called on the loop once the first flush() has sent the head (set by the
    #: application as it hands the servlet over; see its theory of operation).
    on_streaming: Callable[[], None]
    #: The flushed chunks, then None at the end, or the servlet's error if it failed
    #: after flushing (made by the first flush()).
    chunks: asyncio.Queue[bytes | BaseException | None]
    # Shared by the servlet's thread (which adds) and the loop (which takes): bytes
    # queued and not yet sent, and whether the client has gone. Guarded by _room,
    # which flush() waits on.
    _room: threading.Condition
    _unsent = 0
    _gone = False

    def _check_open(self) -> None:
        if self._committed:
            raise HeadersLocked("the headers were sent by flush(): set them before it")

    def setStatus(self, code: int) -> None:
        self._check_open()
        self.status = code

    def setHeader(self, name: str, value: str) -> None:
        self._check_open()
        self.headers[name.lower()] = value

    def header(self, name: str, default: str | None = None) -> str | None:
        """The value set for header *name* (any case), or *default*."""
        return self.headers.get(name.lower(), default)

    def setCookie(self, name: str, value: str, **options: Any) -> None:
        """A cookie; *options* are :meth:`relays_http.Response.set_cookie`'s."""
        self._check_open()
        self.cookies.append((name, value, options))

    def sendRedirect(self, url: str, status: int = 302) -> None:
        self.setStatus(status)
        self.setHeader("location", url)

    def isCommitted(self) -> bool:
        return self._committed

    def write(self, text: str | bytes) -> None:
        self._buffer.append(text)

    def flush(self) -> None:
        """Send the head (once) and what was written so far; wait while more than the
        flush limit waits for the client."""
        data = self._take()
        if not self._committed:
            self._committed = True
            self.chunks = asyncio.Queue()
            self._room = threading.Condition()
            # Read on the loop, once this thread's call_soon has run: the application
            # has set on_streaming by then.
            self._loop.call_soon_threadsafe(self._streaming)
        if data:
            self._queue(data)

    def close(self, error: BaseException | None = None) -> bool:
        """The servlet is done, or failed with *error* (called on its thread by the
        application, after ``sleep``); whether it had flushed. A streamed response ends
        (or fails) after its last chunk; one never flushed is the life cycle's outcome,
        handed to the loop by the pool."""
        if not self._committed:
            return False
        if error is None:
            data = self._take()
            if data and not self._gone:
                self._queue(data)
        self._loop.call_soon_threadsafe(self.chunks.put_nowait, error)
        return True

    def _streaming(self) -> None:
        """On the loop: the first flush() sent the head."""
        self.on_streaming()

    def body(self) -> bytes:
        """What was written and not flushed."""
        return self._take()

    def _take(self) -> bytes:
        buffered, self._buffer = self._buffer, []
        if len(buffered) == 1:  # one write(), the usual page: no generator to join
            part = buffered[0]
            return part.encode("utf-8") if isinstance(part, str) else bytes(part)
        return b"".join(
            part.encode("utf-8") if isinstance(part, str) else part for part in buffered
        )

    def _queue(self, data: bytes) -> None:
        """On the servlet's thread: queue *data* once the queue has room."""
        with self._room:
            while self._unsent > self._flush_limit and not self._gone:
                self._room.wait()
            if self._gone:
                raise ClientDisconnected("the client went away: stop writing the response")
            self._unsent += len(data)
        self._loop.call_soon_threadsafe(self.chunks.put_nowait, data)

    def taken(self, size: int) -> None:
        """On the loop: the client took *size* flushed bytes; a waiting flush may go on."""
        with self._room:
            self._unsent -= size
            self._room.notify()

    def client_gone(self) -> None:
        """On the loop: the client left; a waiting (or later) flush raises."""
        with self._room:
            self._gone = True
            self._room.notify_all()


class Transaction:
    """One request's passage through a servlet: request, response, session, servlet,
    application."""

    def __init__(
        self,
        application: Servlets,
        request: ServletRequest,
        response: ServletResponse,
        servlet: Servlet,
    ) -> None:
        self._application = application
        self._request = request
        self._response = response
        self._servlet = servlet

    def application(self) -> Servlets:
        return self._application

    def request(self) -> ServletRequest:
        return self._request

    def response(self) -> ServletResponse:
        return self._response

    def servlet(self) -> Servlet:
        return self._servlet

    def session(self) -> Session:
        """The request's session, from relays-sessions (register
        ``Sessions(preload=True)``: servlets run on threads and cannot await it)."""
        return session_of(self._request.http)

    def hasSession(self) -> bool:
        return self._request.http.session is not None


class Servlet:
    """A servlet: subclass it and write ``respondToGet`` and friends.

    One instance serves one request at a time; instances are reused, so keep
    per-request state in the transaction, or reset it in ``sleep``.
    """

    def awake(self, transaction: Transaction) -> None:
        """Called before ``respond``: take what the request needs."""
        self.transaction = transaction

    def respond(self, transaction: Transaction) -> None:
        """Call ``respondTo<Method>``; a 405 when there is none (HEAD uses GET's)."""
        method = transaction.request().method()
        name = "respondTo" + method.capitalize()
        responder = getattr(self, name, None)
        if responder is None and method == "HEAD":
            responder = getattr(self, "respondToGet", None)
        if responder is None:
            allowed = sorted(
                attribute[len("respondTo") :].upper()
                for attribute in dir(self)
                if attribute.startswith("respondTo")
            )
            raise MethodNotAllowed(allowed)
        responder(transaction)

    def sleep(self, transaction: Transaction) -> None:
        """Called after ``respond``, even when it failed: let go of the request."""
        self.transaction = None  # type: ignore[assignment]


class Page(Servlet):
    """An HTML page: ``writeContent`` is usually all a subclass writes."""

    transaction: Transaction

    def respondToGet(self, transaction: Transaction) -> None:
        self._handle(transaction)

    def respondToPost(self, transaction: Transaction) -> None:
        self._handle(transaction)

    def _handle(self, transaction: Transaction) -> None:
        action = transaction.request().field("_action_")
        if action is not None and action in self.actions():
            getattr(self, action)()
        self.writeHTML()

    def actions(self) -> list[str]:
        """The method names a form may call through its ``_action_`` field."""
        return []

    def request(self) -> ServletRequest:
        return self.transaction.request()

    def response(self) -> ServletResponse:
        return self.transaction.response()

    def session(self) -> Session:
        return self.transaction.session()

    def write(self, *parts: object) -> None:
        """Write each part (``str`` as is, anything else through ``str()``)."""
        response = self.transaction.response()
        for part in parts:
            response.write(part if isinstance(part, str | bytes) else str(part))

    def writeln(self, *parts: object) -> None:
        self.write(*parts, "\n")

    def title(self) -> str:
        return type(self).__name__

    def htTitle(self) -> str:
        return html.escape(self.title())

    def writeHTML(self) -> None:
        self.writeln("<!DOCTYPE html>")
        self.writeln("<html>")
        self.writeHead()
        self.writeBody()
        self.writeln("</html>")

    def writeHead(self) -> None:
        self.writeln('<head><meta charset="utf-8"><title>', self.htTitle(), "</title></head>")

    def writeBody(self) -> None:
        self.writeln("<body>")
        self.writeContent()
        self.writeln("</body>")

    def writeContent(self) -> None:
        self.writeln("<h1>", self.htTitle(), "</h1>")
