"""A request body that a handler takes as it arrives.

Theory of operation
-------------------
By default a request's body is received in full before the ``request`` event
fires (see :mod:`relays_http._connection`). A request that matches one of the
server's *stream rules* (:meth:`relays_http.HTTP.stream_bodies`, or a page
exposed with ``stream=True``) is fired at head time instead, with a
:class:`BodyStream` that the connection fills as bytes arrive and the handler
drains with ``async for chunk in request.stream()``.

Two owners, one object. The connection is the only writer (:meth:`BodyStream.feed`,
:meth:`~BodyStream.end`, :meth:`~BodyStream.fail`); the handler is the only
reader (iteration). What the reader wants back from the connection goes through
the small :class:`BodySource` interface the connection implements.

Deciding before reading. Nothing is asked of the client until the handler first
iterates: a client that sent ``Expect: 100-continue`` gets its ``100 Continue``
then (:meth:`BodySource.body_wanted`), so a handler that answers at once (a 413
for a declared size it will not take, a 415 for a type) never receives the
body. An answer given before the body was read in full closes the connection
after it (the rest of the body is never parsed).

Backpressure. :meth:`~BodyStream.feed` says when the bytes held for the reader
reach the read-ahead limit (``Limits.stream_read_ahead``); the connection then
stops reading from the transport. When the reader has taken them down to half
the limit, the stream asks the connection to read again
(:meth:`BodySource.body_drained`). So a handler that does not consume holds at
most about one read-ahead of body in memory, and the client is held back by TCP.

The client's pace (Kestrel's ``MinRequestBodyDataRate``, measured as Kestrel does
only while the app waits on the body). A streamed body's pace is set by two
parties, and only the client's may be held against it. So the stream keeps, with
the clock it is given (none when ``min_request_body_rate`` is off: then nothing
is timed), the time its reader has spent waiting on an empty buffer
(:meth:`BodyStream.reader_waited`): from the moment the reader finds nothing to
take until bytes (or the end, or an error) arrive, or the reader stops waiting.
The connection's sweep compares the body bytes received with that time (see
:mod:`relays_http._lifecycle`) and fails the stream with a 408 when the client is
below the rate. Every body byte counts, also one that came while the handler was
busy elsewhere: a client that sends in bursts must not lose the part of a burst
that arrived after the reader woke. A handler that is slow itself is never
waiting then, so its time is not counted and it cannot get its client cut.

Endings. The end of the message ends the iteration. A client that goes away
raises :class:`ClientDisconnected` in the reader; a body that breaks a rule or a
deadline raises the :class:`~relays_http.HTTPError` it was answered with (the
connection has already sent that answer and closes).
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator, Callable
from typing import Protocol

__all__ = ["BodyConsumed", "BodySource", "BodyStream", "ClientDisconnected"]


class ClientDisconnected(ConnectionError):
    """The client went away before its request was answered.

    Raised into a handler that reads a streamed body when the connection closes;
    ``request.disconnected`` is set at the same time.
    """


class BodyConsumed(RuntimeError):
    """The body of a streamed request was asked for twice, or by the buffered API
    (``request.content``, ``request.body``) before ``await request.read()``."""


class BodySource(Protocol):
    """What a :class:`BodyStream` asks of the connection that fills it."""

    def body_wanted(self) -> None:
        """The reader asked for the first chunk: send ``100 Continue`` if it is awaited."""

    def body_drained(self) -> None:
        """The reader took what was held back: read from the transport again."""


class BodyStream:
    """The body of one streamed request, as it arrives; see the theory of operation."""

    __slots__ = (
        "_chunks",
        "_clock",
        "_done",
        "_error",
        "_held",
        "_read_ahead",
        "_source",
        "_started",
        "_taken",
        "_waited",
        "_waiter",
        "_waiting_since",
        "buffered",
        "received",
    )

    def __init__(
        self,
        source: BodySource,
        read_ahead: int,
        clock: Callable[[], float] | None = None,
    ) -> None:
        self._source = source
        self._read_ahead = read_ahead
        # Times the reader's waits when given (the minimum body rate is on).
        self._clock = clock
        # Seconds the reader waited on an empty buffer, in waits that are over...
        self._waited = 0.0
        # ...and when the wait going on began (None: the reader is not waiting).
        self._waiting_since: float | None = None
        self._chunks: deque[bytes] = deque()
        self._done = False
        self._error: BaseException | None = None
        # Whether the connection stopped reading because we held read_ahead bytes.
        self._held = False
        self._started = False
        self._taken = False
        self._waiter: asyncio.Future[None] | None = None
        #: Bytes received and not yet taken by the reader.
        self.buffered = 0
        #: Body bytes received so far.
        self.received = 0

    # -- the connection's side ---------------------------------------------------------

    def feed(self, data: bytes) -> bool:
        """Keep *data* for the reader; False when the connection should stop reading."""
        self._chunks.append(data)
        self.buffered += len(data)
        self.received += len(data)
        self._wake()
        if self.buffered >= self._read_ahead:
            self._held = True
            return False
        return True

    def end(self) -> None:
        """The whole body was received."""
        self._done = True
        self._wake()

    def fail(self, error: BaseException) -> None:
        """The body will not be complete: the reader gets *error* once the chunks
        received before it are taken (none, for a client that went away)."""
        if self._done or self._error is not None:
            return
        self._error = error
        if isinstance(error, ClientDisconnected):
            self._chunks.clear()
            self.buffered = 0
        self._wake()

    @property
    def complete(self) -> bool:
        """Whether the whole body was received (taken or not)."""
        return self._done

    def reader_waited(self, now: float) -> float:
        """Seconds the reader has spent waiting for bytes on an empty buffer, up to *now*
        (0 when nothing is timed: see the theory of operation)."""
        since = self._waiting_since
        return self._waited if since is None else self._waited + (now - since)

    def _stop_waiting(self) -> None:
        since = self._waiting_since
        if since is not None and self._clock is not None:
            self._waiting_since = None
            self._waited += self._clock() - since

    def _wake(self) -> None:
        if self._waiting_since is not None:
            self._stop_waiting()
        waiter = self._waiter
        if waiter is not None:
            self._waiter = None
            if not waiter.done():
                waiter.set_result(None)

    # -- the reader's side -------------------------------------------------------------

    def take(self) -> AsyncIterator[bytes]:
        """The body's chunks, once: a second call raises :class:`BodyConsumed`."""
        if self._taken:
            raise BodyConsumed("the request body was already read; it streams only once")
        self._taken = True
        return self._chunks_as_they_come()

    async def _chunks_as_they_come(self) -> AsyncIterator[bytes]:
        if not self._started:
            self._started = True
            self._source.body_wanted()
        chunks = self._chunks
        while True:
            while not chunks:
                if self._done:
                    return
                if self._error is not None:
                    raise self._error
                waiter = self._waiter = asyncio.get_running_loop().create_future()
                clock = self._clock
                if clock is None:
                    await waiter
                    continue
                self._waiting_since = clock()
                try:
                    await waiter
                finally:  # cancelled, say: what comes next is not the client's time
                    self._stop_waiting()
            chunk = chunks.popleft()
            self.buffered -= len(chunk)
            if self._held and self.buffered <= self._read_ahead // 2:
                self._held = False
                self._source.body_drained()
            yield chunk
