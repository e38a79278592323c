"""One HTTP request's ASGI conversation: ``receive``, ``send``, and what relays-http sends.

Theory of operation
-------------------
The app runs in a task of its own, and talks to one :class:`HttpCycle`. The
``request`` handler (see :mod:`relays_asgi._dispatcher`) waits on the cycle's *head*
future, which settles with the first of:

* the first ``http.response.body``: with ``more_body`` false the whole response is
  known (sent with a Content-Length, in one write); otherwise it is a stream, and
  the handler answers with :meth:`HttpCycle.stream`, an async iterator relays-http
  writes chunk by chunk;
* the app failing, or returning without a complete response: a 500, logged here.

The head goes out with the first body message, never with ``http.response.start``
alone, so a failure between the two is still a clean 500.

Trailers. When ``http.response.start`` announced ``trailers``, the response is a
stream even if its body came in one message: the ``http.response.trailers``
messages that follow end it, their fields yielded last as a relays-http
:class:`~relays_http.Trailers` (which goes out only to clients that take them).

Backpressure. relays-http awaits the transport's ``drain`` after writing each chunk
before it asks the iterator for the next one, and ``send`` waits while
``buffered_chunks`` chunks are waiting: a slow client slows the app.

Request bodies. The :class:`~relays_asgi.Asgi` asks relays-http to stream the bodies
of its requests (``HTTP.stream_bodies``): each chunk the client sends is one
``http.request`` with ``more_body``, read only when the app asks for it, so a slow app
holds the client back and an app that answers without reading never receives the body.
A request body relays-http buffered anyway comes in one message.

Endings. After the body, :meth:`~HttpCycle.receive` waits until the response is
complete or the client went away (``request.disconnected``), and says
``http.disconnect``. When the client goes while streaming (relays-http closes the
iterator), pending and later ``send`` calls raise :class:`ClientDisconnected`.
An app that fails after the head went out has its exception raised out of the
iterator: relays-http logs it once and cuts the response short (the client sees an
incomplete message, never a truncated body that looks whole).

The rules of the messages themselves (order, types) are :class:`ResponseMessages`'s,
which knows nothing of asyncio.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections import deque
from collections.abc import AsyncIterator
from typing import Any

from relays_http import ClientDisconnected as HTTPClientDisconnected
from relays_http import FileRegion, HTTPError, Request, Trailers

from ._errors import AsgiProtocolError, ClientDisconnected

__all__ = [
    "AppFailed",
    "Head",
    "HttpCycle",
    "ResponseMessages",
    "TimedOut",
    "answer_fields",
    "log_app_failure",
]

logger = logging.getLogger("relays.asgi")

#: Response fields an ASGI app may not set: the server owns the connection's framing.
HOP_BY_HOP = frozenset(
    (
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailers",
        "transfer-encoding",
        "upgrade",
    )
)

_START, _BODY, _TRAILERS, _DONE = "start", "body", "trailers", "done"


class Head:
    """What the handler answers with: status, fields, and the body (whole or first chunk)."""

    __slots__ = ("body", "headers", "status", "whole")

    def __init__(
        self, status: int, headers: list[tuple[bytes, bytes]], body: bytes, whole: bool
    ) -> None:
        self.status = status
        self.headers = headers
        self.body = body
        self.whole = whole


class ResponseMessages:
    """The order and form of ``http.response.*`` messages: sans-IO, one per request.

    :meth:`take` checks one message and returns what it means for the response:
    ``("start", status, headers)`` or ``("body", bytes, more_body)``; a broken rule
    raises :class:`AsgiProtocolError`, telling the app what to send instead.
    """

    def __init__(
        self, *, zerocopy: bool = False, state: str = _START, trailers: bool = False
    ) -> None:
        #: Where the response is: ``"start"``, ``"body"``, ``"trailers"`` or ``"done"``
        #: (given to resume the checks of a response whose common messages were
        #: checked elsewhere: the native cycle checks those inline).
        self.state = state
        #: Whether ``http.response.zerocopysend`` was offered (scope's extensions).
        self.zerocopy = zerocopy
        #: Whether the app's ``http.response.start`` announced trailers: its last
        #: body message is then followed by ``http.response.trailers`` ones.
        self.trailers = trailers

    @property
    def complete(self) -> bool:
        return self.state == _DONE

    @property
    def started(self) -> bool:
        return self.state != _START

    def unfinished(self) -> AsgiProtocolError | None:
        """What an app that returned now did wrong: None when its response is complete."""
        if self.state == _DONE:
            return None
        return AsgiProtocolError(
            "the app returned without sending a response"
            if self.state == _START
            else "the app returned before its response was complete (the last"
            " 'http.response.body' has more_body false)"
        )

    def take(self, message: Any) -> tuple[Any, ...]:
        kind = message.get("type") if isinstance(message, dict) else None
        if self.state == _DONE:
            raise AsgiProtocolError(
                f"the app sent {kind!r} after its response was complete (a body message"
                " with more_body false ends it)"
            )
        if kind == "http.response.start":
            if self.state != _START:
                raise AsgiProtocolError(
                    "the app sent 'http.response.start' twice; send it once, then"
                    " 'http.response.body' messages"
                )
            status = message.get("status")
            if type(status) is not int or not 100 <= status <= 599:
                raise AsgiProtocolError(
                    f"'http.response.start' needs an int 'status' from 100 to 599, not {status!r}"
                )
            headers = _headers(message.get("headers", ()))
            self.trailers = bool(message.get("trailers", False))
            self.state = _BODY
            return ("start", status, headers)
        if kind == "http.response.trailers":
            if self.state != _TRAILERS:
                raise AsgiProtocolError(
                    "the app sent 'http.response.trailers' before its last body message, or"
                    " without 'trailers': True in 'http.response.start'"
                )
            fields = _headers(message.get("headers", ()), kind)
            more = bool(message.get("more_trailers", False))
            if not more:
                self.state = _DONE
            return ("trailers", fields, more)
        if kind == "http.response.body":
            if self.state != _BODY:
                raise AsgiProtocolError(
                    "the app sent 'http.response.body' before 'http.response.start'"
                )
            body = message.get("body", b"")
            if not isinstance(body, bytes | bytearray | memoryview):
                raise AsgiProtocolError(
                    f"'http.response.body' needs bytes in 'body', not {type(body).__name__}"
                )
            more = bool(message.get("more_body", False))
            if not more:
                self.state = _TRAILERS if self.trailers else _DONE
            return ("body", bytes(body), more)
        if kind == "http.response.zerocopysend" and self.zerocopy:
            if self.state != _BODY:
                raise AsgiProtocolError(
                    "the app sent 'http.response.zerocopysend' before 'http.response.start'"
                )
            region = _region(message)
            more = bool(message.get("more_body", False))
            if not more:
                self.state = _TRAILERS if self.trailers else _DONE
            return ("file", region, more)
        raise AsgiProtocolError(
            f"an HTTP app sends 'http.response.start' and 'http.response.body' messages,"
            f" not {message!r}"
        )


def _region(message: dict[str, Any]) -> FileRegion:
    """The file region a ``zerocopysend`` message names: from ``offset`` (else the
    file's position), ``count`` bytes (else to its end)."""
    file = message.get("file")
    try:
        descriptor = file if isinstance(file, int) else file.fileno()  # type: ignore[union-attr]
        offset = message.get("offset")
        if offset is None:
            offset = os.lseek(descriptor, 0, os.SEEK_CUR)
        count = message.get("count")
        if count is None:
            count = max(0, os.fstat(descriptor).st_size - offset)
        return FileRegion(file, int(offset), int(count))  # type: ignore[arg-type]
    except (AttributeError, OSError, TypeError, ValueError) as error:
        raise AsgiProtocolError(
            "'http.response.zerocopysend' needs 'file', an open binary file (or its"
            f" descriptor), and int 'offset' and 'count' when given: {error}"
        ) from None


def _headers(fields: Any, kind: str = "http.response.start") -> list[tuple[bytes, bytes]]:
    try:
        pairs = [(bytes(name), bytes(value)) for name, value in fields]
    except (TypeError, ValueError):
        raise AsgiProtocolError(
            f"{kind!r} needs 'headers' as an iterable of [name, value] pairs of"
            f" bytes, not {fields!r}"
        ) from None
    return pairs


#: The chunk queue of a response that is not streamed (it never holds anything).
_NO_CHUNKS: deque[Any] = deque(maxlen=0)


class HttpCycle:
    """One request's ``receive`` and ``send``; the app's task and the handler share it."""

    def __init__(self, request: Request, buffered_chunks: int, *, zerocopy: bool = False) -> None:
        self.request = request
        self.messages = ResponseMessages(zerocopy=zerocopy)
        # The head, or the app's failure before one; a future only for a handler that
        # has to wait for it (:attr:`head`): an app that answers in its first step
        # (eagerly started) needs none.
        self._head: Head | None = None
        self._head_failure: BaseException | None = None
        self._head_waiter: asyncio.Future[Head] | None = None
        self._buffered_chunks = buffered_chunks
        self._body_given = False
        self._body_chunks: AsyncIterator[bytes] | None = None
        self._watcher: asyncio.Future[None] | None = None
        self._status = 0
        self._headers: list[tuple[bytes, bytes]] = []
        self._trailer_fields: list[tuple[bytes, bytes]] = []
        # A file region is the app's file until it was written: send() waits for this.
        self._region_written: asyncio.Future[None] | None = None
        self._streaming = False
        self._ended = False  # the app sent its last body message
        self._failure: BaseException | None = None
        self._gone = False  # the client went away (or the stream was given up)
        # The stream's machinery, made by :meth:`_start_streaming` (most responses come
        # whole, in one message, and need none of it).
        self._chunks: deque[bytes | FileRegion | Trailers] = _NO_CHUNKS
        self._more: asyncio.Event | None = None  # something for the iterator
        self._room: asyncio.Event | None = None  # room for send, or gone
        # Response complete or client gone: ``receive`` says disconnect. The event only
        # once the app waits for it.
        self._is_over = False
        self._over: asyncio.Event | None = None

    def _start_streaming(self) -> None:
        """The response is a stream: make the chunk queue and its two events."""
        self._streaming = True
        if self._more is None:
            self._chunks = deque()
            self._more = asyncio.Event()
            self._room = asyncio.Event()
            if self._gone:
                self._room.set()

    def _signal_more(self) -> None:
        if self._more is not None:
            self._more.set()

    def _signal_room(self) -> None:
        if self._room is not None:
            self._room.set()

    def _set_over(self) -> None:
        self._is_over = True
        if self._over is not None:
            self._over.set()
        if self._watcher is not None:  # never left pending for the GC to complain of
            self._watcher.cancel()

    # -- the head ----------------------------------------------------------------------

    @property
    def head_known(self) -> bool:
        """Whether the head came, or the app failed before one: :meth:`head_now` answers."""
        return self._head is not None or self._head_failure is not None

    def head_now(self) -> Head:
        """The head; raises :class:`AppFailed` or :class:`TimedOut` when there is none."""
        if self._head_failure is not None:
            raise self._head_failure
        assert self._head is not None, "head_now() before head_known"
        return self._head

    @property
    def head(self) -> asyncio.Future[Head]:
        """A future of the head (made on first use), for a handler that has to wait."""
        waiter = self._head_waiter
        if waiter is None:
            waiter = self._head_waiter = asyncio.get_running_loop().create_future()
            if self._head_failure is not None:
                waiter.set_exception(self._head_failure)
            elif self._head is not None:
                waiter.set_result(self._head)
        return waiter

    def _settle_head(self, head: Head) -> None:
        self._head = head
        waiter = self._head_waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(head)

    def _fail_head(self, failure: BaseException) -> None:
        self._head_failure = failure
        waiter = self._head_waiter
        if waiter is not None and not waiter.done():
            waiter.set_exception(failure)

    @property
    def client_gone(self) -> bool:
        """Whether the response can no longer be sent (the client went away)."""
        return self._gone

    # -- the app's side ----------------------------------------------------------------

    async def receive(self) -> dict[str, Any]:
        request = self.request
        if not self._body_given:
            if request.streamed:
                return await self._next_body_chunk()
            self._body_given = True
            body = await request.read()
            return {"type": "http.request", "body": body, "more_body": False}
        if not self._is_over:
            await self._wait_over_or_disconnected()
        return {"type": "http.disconnect"}

    async def _next_body_chunk(self) -> dict[str, Any]:
        """The next ``http.request`` of a body relays-http streams (the Asgi asked it to)."""
        if self._body_chunks is None:
            self._body_chunks = self.request.stream()
        try:
            chunk = await anext(self._body_chunks)
        except StopAsyncIteration:
            self._body_given = True
            return {"type": "http.request", "body": b"", "more_body": False}
        except (HTTPClientDisconnected, HTTPError):
            # Gone, or refused by a limit (the server answered it): either way nothing
            # more comes and no answer of the app's will be sent.
            self._body_given = True
            self.give_up()
            return {"type": "http.disconnect"}
        return {"type": "http.request", "body": chunk, "more_body": True}

    async def _wait_over_or_disconnected(self) -> None:
        disconnected = self.request.disconnected
        if disconnected.is_set():
            self.give_up()
            return
        if self._over is None:
            self._over = asyncio.Event()
        over = asyncio.ensure_future(self._over.wait())
        gone = asyncio.ensure_future(disconnected.wait())
        try:
            await asyncio.wait((over, gone), return_when=asyncio.FIRST_COMPLETED)
        finally:
            over.cancel()
            gone.cancel()
        if disconnected.is_set():
            self.give_up()

    def watch_disconnect(self) -> None:
        """While the response streams, a client that goes away stops the app's ``send``."""
        self._watcher = asyncio.ensure_future(self._watch())

    async def _watch(self) -> None:
        await self.request.disconnected.wait()
        self.give_up()

    async def send(self, message: dict[str, Any]) -> None:
        if self._gone:
            raise ClientDisconnected("the client went away; the response cannot be sent")
        taken = self.messages.take(message)
        if taken[0] == "start":
            _, self._status, self._headers = taken
            return
        if taken[0] == "file":
            await self._send_region(taken[1], taken[2])
            return
        if taken[0] == "trailers":
            if not self.head_known:  # an empty body: the head goes out now
                self._start_streaming()
                self._settle_head(Head(self._status, self._headers, b"", whole=False))
            self._trailer_fields += taken[1]
            if not taken[2]:
                self._chunks.append(Trailers(self._trailer_fields))
                self._ended = True
                self._signal_more()
            return
        _, body, more = taken
        if self.messages.trailers:
            more = True  # streamed (chunked, to carry them): the trailers end it
        if not self._streaming:
            if more and not body:
                return  # nothing to send yet: the head waits for bytes or the end
            if not self.head_known:
                if more:
                    self._start_streaming()
                self._settle_head(Head(self._status, self._headers, body, whole=not more))
            if not more:
                self._set_over()
            return
        if body:
            self._chunks.append(body)
        if not more:
            self._ended = True
        self._signal_more()
        room = self._room
        assert room is not None
        while len(self._chunks) >= self._buffered_chunks and not self.client_gone:
            room.clear()
            await room.wait()
        if self.client_gone:
            raise ClientDisconnected("the client went away before the response was sent")

    async def _send_region(self, region: FileRegion, more: bool) -> None:
        """Queue *region*; return once relays-http wrote it (sendfile where it can)."""
        if not self.head_known:
            self._settle_head(Head(self._status, self._headers, b"", whole=False))
        self._start_streaming()
        written = self._region_written = asyncio.get_running_loop().create_future()
        self._chunks.append(region)
        if not more and not self.messages.trailers:
            self._ended = True
        self._signal_more()
        await written
        if self.client_gone:
            raise ClientDisconnected("the client went away before the file was sent")

    def _region_done(self) -> None:
        written = self._region_written
        if written is not None and not written.done():
            written.set_result(None)

    # -- the app's task ends -----------------------------------------------------------

    def app_returned(self) -> None:
        problem = self.messages.unfinished()
        if problem is not None:
            self.app_failed(problem)

    def app_failed(self, error: BaseException) -> None:
        """The app raised *error* (or broke the protocol): tell whoever can still hear it.

        Returns having logged it, unless the stream will raise it (relays-http logs
        that once).
        """
        if not self.head_known:
            self._log(error, "before its response started")
            self._fail_head(AppFailed(error))
            self._set_over()
        elif self._streaming and not self._ended and not self._gone:
            self._failure = error
            self._signal_more()
        elif not isinstance(error, ClientDisconnected):
            self._log(error, "after its response was sent")

    def _log(self, error: BaseException, when: str) -> None:
        log_app_failure(error, when, self.request.method, self.request.target)

    # -- relays-http's side ------------------------------------------------------------

    async def stream(self, first: bytes) -> AsyncIterator[bytes | FileRegion | Trailers]:
        """The body after the first chunk, as the app sends it; ends with the response."""
        try:
            if first:
                yield first
            self._start_streaming()  # (already, unless the head came in an empty trailer)
            more = self._more
            assert more is not None
            while True:
                if self._chunks:
                    chunk = self._chunks.popleft()
                    self._signal_room()
                    yield chunk
                    if type(chunk) is FileRegion:  # asked for more: the region is written
                        self._region_done()
                elif self._failure is not None:
                    raise self._failure
                elif self._ended:
                    return
                else:
                    more.clear()
                    await more.wait()
        finally:
            if not (self._ended and not self._chunks):
                self._gone = True  # relays-http gave up: the client went away
            self._signal_room()
            self._set_over()

    def time_out(self) -> None:
        """``response_start_timeout`` passed: the handler answers 500 (it logs why)."""
        if not self.head_known:
            self._fail_head(TimedOut())

    def give_up(self) -> None:
        """The response will not be sent (the handler gave up): the app hears disconnect."""
        self._gone = True
        self._signal_room()
        self._set_over()
        self._region_done()


class TimedOut(Exception):
    """The app did not start its response within ``response_start_timeout``."""


class AppFailed(Exception):
    """The app failed before its response started (already logged): answer 500."""

    def __init__(self, error: BaseException) -> None:
        super().__init__(str(error))
        self.error = error


def log_app_failure(error: BaseException, when: str, method: str, target: str) -> None:
    """Log the app's failure once, with its traceback, naming the request."""
    logger.error(
        "the ASGI app failed %s, for %s %s",
        when,
        method,
        target,
        exc_info=(type(error), error, error.__traceback__),
    )


def answer_fields(head: Head) -> tuple[list[tuple[str, str]], str | None]:
    """The app's fields the response may carry, and its Content-Length if it gave one.

    The framing is the server's: hop-by-hop fields are dropped, and Content-Length is
    handed back apart, for the handler to keep only where the server will honour it.
    """
    fields: list[tuple[str, str]] = []
    length = None
    for raw_name, raw_value in head.headers:
        name = raw_name.decode("latin-1")
        lower = name.lower()
        if lower == "content-length":
            length = raw_value.decode("latin-1")
        elif lower not in HOP_BY_HOP:
            fields.append((name, raw_value.decode("latin-1")))
    return fields, length
