"""The handle of one open WebSocket: the protocol core joined to a relays connection.

Theory of operation. :class:`WebSocket` owns the connection's I/O state: the
sans-IO :class:`~relays_websocket.WebSocketProtocol`, the transport connection it
writes to, the queue of messages not yet read through the async API, and the
keep-alive and closing timers. Bytes arrive through :meth:`WebSocket.feed` (the
HTTP upgrade or the client's socket calls it); each whole message goes either to
the owner's callback (which fires ``read``) or, for async code, into the queue that
``async for message in ws`` and :meth:`WebSocket.receive` take from. The queue is
bounded: when it holds ``max_queue`` messages the socket stops reading, so a slow
consumer pushes back on the peer through TCP instead of growing memory.

Sending goes straight to the transport. :meth:`WebSocket.send` then waits while
the transport's buffer is over its high-water mark (a slow reader pauses the
sender); :meth:`WebSocket.send_nowait` (the ``write`` event) never waits, and a
peer that lets more than ``max_outgoing`` bytes pile up is dropped with close code
1008, so one slow client cannot hold a broadcast back or eat the server's memory.

Closing: after our close frame the peer has ``close_timeout`` seconds to answer
before the connection is dropped; a protocol error sends its close frame and drops
the connection at once (the server's side closes TCP first, RFC 6455 7.1.1).
"""

from __future__ import annotations

import asyncio
import collections
import os
from collections.abc import AsyncIterator, Callable
from typing import Any

from relays.transports import Connection, supports_drain

from ._errors import ConnectionClosed, LocalProtocolError, ProtocolError
from ._protocol import CloseReceived, Pong, State, WebSocketProtocol

__all__ = ["WebSocket"]

#: Messages the async API holds unread before the socket stops reading from the peer.
MAX_QUEUE = 16

_ABNORMAL = 1006


def _buffered(connection: Connection) -> int:
    """Bytes queued in the transport, when it can tell (relays-sockets' connections can;
    the kernel names no capability for this, and one that cannot tell counts as empty).

    Whether a connection can *wait* for its buffer is the kernel's
    :func:`~relays.transports.supports_drain`; this only spares ``send`` a wait on an
    empty buffer."""
    size: int = getattr(connection, "write_buffer_size", 0)
    return size


class WebSocket:
    """One open WebSocket (circuits' ``sock``): compare it, keep it, send to it.

    ``path`` is the URL path it was opened on, ``subprotocol`` the one negotiated,
    ``request`` the HTTP request of the handshake on a server (``None`` on a client).
    """

    def __init__(
        self,
        connection: Connection,
        protocol: WebSocketProtocol,
        *,
        on_message: Callable[[WebSocket, str | bytes], None] | None,
        on_disconnect: Callable[[WebSocket], None],
        path: str = "/",
        subprotocol: str | None = None,
        request: Any = None,
    ) -> None:
        #: The transport's :class:`~relays.transports.Connection` underneath.
        self.connection = connection
        #: The URL path the WebSocket was opened on.
        self.path = path
        #: The subprotocol both sides agreed on, or None.
        self.subprotocol = subprotocol
        #: The handshake's :class:`~relays_http.Request` on a server; None on a client.
        self.request = request
        #: Groups this socket joined (see :meth:`join`); kept by its endpoint.
        self.groups: set[Any] = set()
        #: How the connection ended: the close code (1006 without a close frame).
        self.close_code: int | None = None
        #: The reason of that close frame ("" without one).
        self.close_reason = ""
        self._protocol = protocol
        self._limits = protocol.limits
        self._on_message = on_message
        self._on_disconnect = on_disconnect
        self._queue: collections.deque[str | bytes] = collections.deque()
        self._reader: asyncio.Future[None] | None = None
        self._paused = False
        self._gone = False
        self._closed_waiter: asyncio.Future[None] | None = None
        self._loop = asyncio.get_running_loop()
        self._drainable = connection if supports_drain(connection) else None
        self._close_timer: asyncio.TimerHandle | None = None
        self._ping_timer: asyncio.TimerHandle | None = None
        self._pong_timer: asyncio.TimerHandle | None = None
        self._heard = True  # something arrived since the last keep-alive tick
        self._schedule_ping()

    @property
    def peer(self) -> Any:
        return self.connection.peer

    @property
    def secure(self) -> bool:
        return self.connection.secure

    @property
    def closed(self) -> bool:
        """True once a close frame was sent or received, or the connection dropped."""
        return self._gone or self._protocol.state is not State.OPEN

    def __repr__(self) -> str:
        state = " closed" if self.closed else ""
        return f"<WebSocket {self.path} peer={self.peer!r}{state}>"

    # -- incoming -------------------------------------------------------------------

    def feed(self, data: bytes) -> None:
        """Bytes from the peer (the transport calls this)."""
        self._heard = True
        try:
            events = self._protocol.receive_data(data)
        except ProtocolError as error:
            for event in error.events:
                if isinstance(event, str | bytes):
                    self._deliver(event)
            self._flush()
            self._drop()
            return
        for event in events:
            kind = type(event)
            if kind is str or kind is bytes:
                self._deliver(event)  # type: ignore[arg-type]
            elif kind is CloseReceived:
                self._flush()
                assert isinstance(event, CloseReceived)
                self._remember_close(event.code, event.reason)
                if self._protocol.is_client and self._protocol.close_sent == event.code:
                    # Our answer is out: the server closes TCP, we wait close_timeout for it.
                    self._start_close_timer()
                else:
                    self.connection.close()
            elif kind is Pong and self._pong_timer is not None:
                self._pong_timer.cancel()
                self._pong_timer = None
        self._flush()

    def _deliver(self, message: str | bytes) -> None:
        if self._on_message is not None:
            self._on_message(self, message)
            return
        self._queue.append(message)
        reader = self._reader
        if reader is not None and not reader.done():
            reader.set_result(None)
        if len(self._queue) >= MAX_QUEUE and not self._paused:
            self._paused = True
            self.connection.pause_reading()

    def eof(self) -> None:
        """The peer half-closed: nothing more comes; close our side too."""
        self.connection.close()

    def connection_lost(self, error: BaseException | None = None) -> None:
        """The transport is gone (the transport calls this once)."""
        if self._gone:
            return
        self._gone = True
        if self.close_code is None:
            received = self._protocol.close_received
            if received is not None:
                self._remember_close(received.code, received.reason)
            else:
                self._remember_close(_ABNORMAL, "the connection dropped without a close frame")
        for timer in (self._close_timer, self._ping_timer, self._pong_timer):
            if timer is not None:
                timer.cancel()
        reader = self._reader
        if reader is not None and not reader.done():
            reader.set_result(None)
        waiter = self._closed_waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)
        self._on_disconnect(self)

    def _remember_close(self, code: int, reason: str) -> None:
        if self.close_code is None:
            self.close_code = 1000 if code == 1005 else code
            self.close_reason = reason

    # -- the async API ---------------------------------------------------------------

    async def receive(self) -> str | bytes:
        """The next message; raises :class:`ConnectionClosed` once the connection ended."""
        while not self._queue:
            if self._gone or self._protocol.close_received is not None:
                raise ConnectionClosed(self.close_code or _ABNORMAL, self.close_reason)
            self._reader = self._loop.create_future()
            await self._reader
        message = self._queue.popleft()
        if self._paused and len(self._queue) < MAX_QUEUE // 2:
            self._paused = False
            self.connection.resume_reading()
        return message

    async def __aiter__(self) -> AsyncIterator[str | bytes]:
        """Every message until the connection closes (then the loop just ends)."""
        while True:
            try:
                yield await self.receive()
            except ConnectionClosed:
                return

    async def send(self, message: str | bytes) -> None:
        """Send one message; wait while the peer is slow to read what we already sent.

        Raises :class:`ConnectionClosed` when the connection is closing or closed.
        """
        self._write(message)
        drainable = self._drainable
        if drainable is not None and _buffered(self.connection):
            try:
                await drainable.drain()
            except ConnectionError:
                raise ConnectionClosed(self.close_code or _ABNORMAL, self.close_reason) from None

    def send_nowait(self, message: str | bytes) -> None:
        """Send one message without waiting; a peer over ``max_outgoing`` is dropped (1008).

        Raises :class:`ConnectionClosed` when the connection is closing or closed.
        """
        self._write(message)
        if _buffered(self.connection) > self._limits.max_outgoing:
            self._too_slow()

    def send_or_drop(self, message: str | bytes) -> None:
        """For many receivers at once (``write``, ``broadcast``): never wait, never raise.

        A socket that is closed is skipped; one whose peer lets more than
        ``max_outgoing`` bytes pile up is dropped with close code 1008.
        """
        # One check of the state instead of three (closed, _write, the core's send): the
        # core refuses to send once a close frame crossed, which is all "closed" adds.
        if self._gone:
            return
        try:
            frame = self._protocol.send(message)
        except LocalProtocolError:
            return
        connection = self.connection
        connection.write(frame)
        if _buffered(connection) > self._limits.max_outgoing:
            self._too_slow()

    def _write(self, message: str | bytes) -> None:
        if self._gone:
            raise ConnectionClosed(self.close_code or _ABNORMAL, self.close_reason)
        try:
            frame = self._protocol.send(message)
        except LocalProtocolError:
            raise ConnectionClosed(self.close_code or _ABNORMAL, self.close_reason) from None
        self.connection.write(frame)

    def _too_slow(self) -> None:
        self._remember_close(1008, "the peer read too slowly (over max_outgoing)")
        abort = getattr(self.connection, "abort", None)
        if abort is not None:
            abort()
        else:
            self.connection.close()

    async def ping(self, payload: bytes = b"") -> None:
        """Send a ping; the pong is awaited by the keep-alive, not here."""
        if self.closed:
            raise ConnectionClosed(self.close_code or _ABNORMAL, self.close_reason)
        self.connection.write(self._protocol.ping(payload))

    def close(self, code: int = 1000, reason: str = "") -> None:
        """Start the close handshake; the peer has ``close_timeout`` seconds to answer."""
        if self._gone:
            return
        frame = self._protocol.close(code, reason)
        if frame:
            self._remember_close(code, reason)
            self.connection.write(frame)
            self._start_close_timer()

    async def wait_closed(self) -> None:
        """Return once the connection is gone."""
        if self._gone:
            return
        if self._closed_waiter is None:
            self._closed_waiter = self._loop.create_future()
        await asyncio.shield(self._closed_waiter)

    # -- timers ----------------------------------------------------------------------

    def _flush(self) -> None:
        data = self._protocol.data_to_send()
        if data and not self._gone:
            self.connection.write(data)

    def _drop(self) -> None:
        if self._protocol.close_sent is not None:
            self._remember_close(self._protocol.close_sent, "protocol error")
        self.connection.close()

    def _start_close_timer(self) -> None:
        if self._close_timer is None:
            self._close_timer = self._loop.call_later(
                self._limits.close_timeout, self._close_timed_out
            )

    def _close_timed_out(self) -> None:
        abort = getattr(self.connection, "abort", None)
        if abort is not None:
            abort()
        else:
            self.connection.close()

    def _schedule_ping(self) -> None:
        interval = self._limits.ping_interval
        if interval is not None:
            self._ping_timer = self._loop.call_later(interval, self._keep_alive)

    def _keep_alive(self) -> None:
        if self.closed:
            return
        if not self._heard and self._pong_timer is None:
            self.connection.write(self._protocol.ping(os.urandom(4)))
            timeout = self._limits.ping_timeout
            if timeout is not None:
                self._pong_timer = self._loop.call_later(timeout, self._no_pong)
        self._heard = False
        self._schedule_ping()

    def _no_pong(self) -> None:
        self._pong_timer = None
        if not self.closed:
            self.connection.write(self._protocol.close(1011, "keep-alive ping timed out"))
            self._remember_close(1011, "keep-alive ping timed out")
        self._close_timed_out()
