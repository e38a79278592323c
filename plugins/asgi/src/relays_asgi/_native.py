"""An ASGI request served straight from relays-http's parsed head.

Theory of operation
-------------------
:class:`~relays_asgi.Asgi` registers a head taker with relays-http
(:meth:`relays_http.HTTP.take_heads`). For each request under its mount, relays-http
hands it an :class:`~relays_http.Exchange`: the head as bytes and a responder. The
scope is built from those bytes at once, as one dict (what one connection's requests
share, ``client``, ``server``, ``scheme`` and whether ``zerocopysend`` is offered, is
worked out once per connection and kept in its :class:`~relays_http.ConnectionInfo`;
a plain target, no ``%`` and no ``?``, is its own path; any other is split by
relays-http's :func:`~relays_http.target_parts`, as a ``Request`` is), the app runs in
a task of its own (eager on Python 3.12+, so an app that answers at once has answered
before the taker returns), and it talks to one :class:`NativeCycle`:

* ``http.response.start`` is kept; the head goes out with the first body message,
  never alone, so a failure between the two is still a clean 500;
* a ``http.response.body`` with ``more_body`` false and no trailers announced is the
  whole response: head and body go out in one write (``Exchange.respond``), with the
  app's fields as bytes, as they are (relays-http validates them and frames the body);
* otherwise the head goes out (``Exchange.start``), each body message is written and
  ``send`` returns once the transport can take more (its ``drain``: backpressure),
  file regions go through ``sendfile`` where the transport has it, and the last body
  (or trailers) message ends the response (``Exchange.finish``).

Hop-by-hop fields of the app's are dropped (the framing is relays-http's), and its
Content-Length goes out where relays-http honours it: on a stream (which it then
enforces) and on a whole answer to ``HEAD``; on any other whole answer the server
counts the body itself.

``receive`` gives the body as relays-http reads it (one ``http.request`` a chunk,
read only when the app asks, so a slow app holds the client back), then waits until
the response is over or the client went away and says ``http.disconnect``.

Endings, as on the event path (:mod:`relays_asgi._http`): an app that fails or
returns before its head went out gets a logged 500; one that fails mid-stream is
logged once and the response cut short (``Exchange.abort``); a message after the
response was complete is the app's mistake, logged once; a client that goes makes
``send`` raise :class:`~relays_asgi.ClientDisconnected`. No relays event is fired:
relays-http offers the head only while nothing in the tree watches requests, and
otherwise the request reaches ``Asgi``'s ``request`` handler, as before.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from typing import Any

from relays_http import ClientDisconnected as HTTPClientDisconnected
from relays_http import ConnectionInfo, Exchange, HTTPError

from ._errors import ClientDisconnected
from ._http import _BODY, _DONE, _START, _TRAILERS, ResponseMessages, log_app_failure
from ._scope import address
from ._shape import AsgiApp

__all__ = [
    "METHODS",
    "NativeCycle",
    "connection_parts",
]

logger = logging.getLogger("relays.asgi")

#: Response fields an ASGI app may not set, as the bytes an app sends (lower case).
DROPPED_FIELDS = frozenset(
    (
        b"connection",
        b"keep-alive",
        b"proxy-authenticate",
        b"proxy-authorization",
        b"te",
        b"trailers",
        b"transfer-encoding",
        b"upgrade",
    )
)
_CONTENT_LENGTH = b"content-length"
#: The usual methods' names, made once.
METHODS = {m.encode(): m for m in ("GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS")}
_INTERNAL_ERROR = (
    500,
    [
        (b"content-type", b"text/plain; charset=utf-8"),
        (b"x-content-type-options", b"nosniff"),
    ],
    b"Internal Server Error\n",
)


def connection_parts(info: ConnectionInfo) -> tuple[Any, Any, str, bool]:
    """What every scope of one connection says alike: client, server, scheme, and
    whether ``http.response.zerocopysend`` is offered (the transport has ``sendfile``)."""
    return address(info.client), address(info.server), info.scheme, info.sendfile


class NativeCycle:
    """One request's ``receive`` and ``send`` on an :class:`~relays_http.Exchange`."""

    __slots__ = (
        "_abandoned",
        "_announced",
        "_as_is",
        "_body_done",
        "_fields",
        "_head_sent",
        "_length",
        "_over_waiter",
        "_state",
        "_status",
        "_trailers",
        "_zerocopy",
        "exchange",
        "head_due",
        "stream_bodies",
    )

    def __init__(self, exchange: Exchange, zerocopy: bool, stream_bodies: bool) -> None:
        self.exchange = exchange
        # The order of the app's messages (ResponseMessages' states): the common ones
        # are checked inline in send, the others by a ResponseMessages resumed there.
        self._state = _START
        self._zerocopy = zerocopy
        # Whether http.response.start announced trailers.
        self._announced = False
        # Whether the app's fields go out as it gave them (bytes, nothing to drop).
        self._as_is = False
        # The app's Content-Length value among fields kept as they are, or None.
        self._length: bytes | None = None
        #: Whether body chunks reach the app as they come (else the body comes whole).
        self.stream_bodies = stream_bodies
        #: When (loop time) the head is due (``response_start_timeout``), set by the
        #: dispatcher when the app did not answer at once.
        self.head_due = 0.0
        self._status = 0
        self._fields: Sequence[tuple[bytes, bytes]] = ()
        self._trailers: Sequence[tuple[bytes, bytes]] = ()
        self._head_sent = False
        self._body_done = False
        # The response will not be sent (timed out, the body refused): disconnect.
        self._abandoned = False
        self._over_waiter: asyncio.Future[None] | None = None

    @property
    def head_sent(self) -> bool:
        """Whether the head went out (or the response is over another way)."""
        return self._head_sent or self._abandoned or self.exchange.over

    def _is_over(self) -> bool:
        return self._abandoned or self.exchange.over

    def _wake(self) -> None:
        waiter = self._over_waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def _head_went(self) -> None:
        self._head_sent = True

    # -- receive -----------------------------------------------------------------------

    async def receive(self) -> dict[str, Any]:
        if not self._body_done:
            exchange = self.exchange
            if not exchange.has_body:
                self._body_done = True
                return {"type": "http.request", "body": b"", "more_body": False}
            try:
                chunk = await exchange.read()
                if not self.stream_bodies:  # the whole body, in one message
                    parts = [chunk]
                    while chunk:
                        chunk = await exchange.read()
                        parts.append(chunk)
                    self._body_done = True
                    return {"type": "http.request", "body": b"".join(parts), "more_body": False}
            except (HTTPClientDisconnected, HTTPError):
                # Gone, or refused by a limit (relays-http answered it): nothing more
                # comes and no answer of the app's will be sent.
                self._body_done = True
                self.give_up()
                return {"type": "http.disconnect"}
            if not chunk:
                self._body_done = True
                return {"type": "http.request", "body": b"", "more_body": False}
            return {"type": "http.request", "body": chunk, "more_body": True}
        if not self._is_over():
            waiter = self._over_waiter
            if waiter is None:
                waiter = self._over_waiter = asyncio.get_running_loop().create_future()
                self.exchange.when_gone(self._wake)
            await waiter
        return {"type": "http.disconnect"}

    # -- send --------------------------------------------------------------------------

    async def send(self, message: dict[str, Any]) -> None:
        """Check and send one message. The common shapes (a start with bytes fields, a
        body of bytes) are checked here, in line; the rest, and every mistake, go to
        :class:`~relays_asgi._http.ResponseMessages` for its checks and messages."""
        exchange = self.exchange
        if self._abandoned or exchange.gone:
            raise ClientDisconnected("the client went away; the response cannot be sent")
        kind = message.get("type") if type(message) is dict else None
        if kind == "http.response.body" and self._state is _BODY:
            body = message.get("body", b"")
            more = message.get("more_body", False)
            if type(body) is not bytes or type(more) is not bool:
                taken = self._take(message)
                body, more = taken[1], taken[2]
            elif not more:
                self._state = _TRAILERS if self._announced else _DONE
        elif kind == "http.response.start" and self._state is _START:
            status = message.get("status")
            fields = message.get("headers", ())
            trailers = message.get("trailers", False)
            if type(status) is int and 100 <= status <= 599 and type(trailers) is bool:
                self._state = _BODY
                self._announced = trailers
                self._status = status
                self._fields = fields
                try:  # the app's list goes out as it is when it holds nothing to drop
                    for name, value in fields:
                        if type(name) is not bytes or type(value) is not bytes:
                            break
                        lower = name.lower()
                        if lower in DROPPED_FIELDS:
                            break
                        if lower == _CONTENT_LENGTH:
                            if self._length is not None:
                                break  # twice: the checks below say what is wrong
                            self._length = value
                    else:
                        self._as_is = True
                        return
                except (TypeError, ValueError):
                    pass
                self._length = None
                self._state = _START
            taken = self._take(message)
            self._status = taken[1]
            self._fields = taken[2]
            return
        else:
            taken = self._take(message)
            kind = taken[0]
            if kind == "body":
                body, more = taken[1], taken[2]
            else:
                await self._send_rest(taken)
                return
        if not self._head_sent:
            if not more and not self._announced:
                # The whole response, in one write: the usual case, kept to few calls.
                self._head_sent = True
                fields = self._fields
                length = self._length
                # A Content-Length that is the body's goes out as it is; any other is
                # dropped (the server counts) or, for HEAD, kept: _whole_fields.
                if not self._as_is or (length is not None and length != b"%d" % len(body)):
                    fields = self._whole_fields()
                try:
                    exchange.respond(self._status, fields, body)
                finally:
                    if self._over_waiter is not None:
                        self._wake()
                return
            if more and not body:
                return  # nothing to send yet: the head waits for bytes or the end
            self._start()
        if body:
            await self._write(body)
        if not more and not self._announced:
            self._finish()

    def _take(self, message: Any) -> tuple[Any, ...]:
        """Check a message that is not of the common shapes (or is a mistake)."""
        rules = ResponseMessages(
            zerocopy=self._zerocopy, state=self._state, trailers=self._announced
        )
        taken = rules.take(message)
        self._state = rules.state
        self._announced = rules.trailers
        return taken

    async def _send_rest(self, taken: tuple[Any, ...]) -> None:
        """Send a file region or trailers."""
        if not self._head_sent:
            self._start()
        if taken[0] == "file":
            try:
                await self.exchange.send_file(taken[1])
            except HTTPClientDisconnected:
                raise ClientDisconnected("the client went away before the file was sent") from None
            if not taken[2] and not self._announced:
                self._finish()
            return
        # trailers
        self._trailers = [*self._trailers, *taken[1]]
        if not taken[2]:
            self._finish()

    def _whole_fields(self) -> list[tuple[bytes, bytes]]:
        """The app's fields for a whole answer: its Content-Length only for ``HEAD``."""
        return self._framed_fields(keep_length=self.exchange.method == b"HEAD")

    def _framed_fields(self, *, keep_length: bool) -> list[tuple[bytes, bytes]]:
        """The app's fields without hop-by-hop ones; its (last) Content-Length, last,
        when *keep_length*: as the event path answers (``answer_fields``)."""
        fields = []
        length = None
        for name, value in self._fields:
            lower = name.lower()
            if lower == _CONTENT_LENGTH:
                length = value
            elif lower not in DROPPED_FIELDS:
                fields.append((name, value))
        if keep_length and length is not None:
            fields.append((_CONTENT_LENGTH, length))
        return fields

    def _start(self) -> None:
        self._head_went()
        fields = self._fields if self._as_is else self._framed_fields(keep_length=True)
        if not self.exchange.start(self._status, fields):
            self._wake()
            raise ClientDisconnected("the response head could not be sent (see the log)")

    async def _write(self, body: bytes) -> None:
        try:
            await self.exchange.write(body)
        except HTTPClientDisconnected:
            self._wake()
            raise ClientDisconnected("the client went away before the response was sent") from None

    def _finish(self) -> None:
        self.exchange.finish(self._trailers)
        self._wake()

    # -- the app's task ---------------------------------------------------------------

    async def run(
        self, app: AsgiApp, scope: dict[str, Any], ended: Callable[[NativeCycle, None], object]
    ) -> None:
        """Run *app* for this request: the coroutine of the app's task. *ended* is
        called with this cycle (and None) when it ends, whichever way: the dispatcher's
        way to forget the task (a done callback would cost a loop turn's handle)."""
        try:
            await app(scope, self.receive, self.send)
        except asyncio.CancelledError:
            self.give_up()
            raise
        except BaseException as error:
            self.app_failed(error)
        else:
            if self._state is not _DONE:
                self.app_returned()
        finally:
            ended(self, None)

    def app_returned(self) -> None:
        if self._state is not _DONE:
            problem = ResponseMessages(state=self._state).unfinished()
            if problem is not None:
                self.app_failed(problem)

    def app_failed(self, error: BaseException) -> None:
        """The app raised *error* (or broke the protocol): answer 500, or cut short."""
        exchange = self.exchange
        if not self.head_sent:
            self._log(error, "before its response started")
            self.respond_internal_error()
        elif not exchange.over:  # mid-stream: the client sees an incomplete message
            self._log(error, "while streaming its response")
            exchange.abort()
            self._wake()
        elif not isinstance(error, ClientDisconnected) and not exchange.gone:
            self._log(error, "after its response was sent")

    def respond_internal_error(self) -> None:
        """A plain 500, when nothing was sent yet (the reason is logged by the caller)."""
        self._head_went()
        exchange = self.exchange
        if not exchange.over:
            status, fields, body = _INTERNAL_ERROR
            exchange.respond(status, fields, body)
        self._wake()

    def give_up(self) -> None:
        """The response will not be sent: the app hears disconnect, ``send`` raises."""
        self._abandoned = True
        self._wake()

    def _log(self, error: BaseException, when: str) -> None:
        exchange = self.exchange
        log_app_failure(
            error, when, exchange.method.decode("latin-1"), exchange.target.decode("latin-1")
        )
