"""What TCP and UNIX stream servers and clients share: life cycle, limits, events.

Theory of operation
-------------------
A server starts listening when its tree starts (``started``) or when it is
registered into a running tree, whichever it sees first, and fires
``ready(server, address)``. Each accepted connection is a
:class:`~relays_sockets._connection.SocketConnection`, which calls back into
``_accept`` (refused beyond ``max_connections``: closed at once, counted, logged at
most once a second), ``_report`` (a write on a closed connection) and ``_lost``.

A TLS server accepts its connections plain and takes the handshake itself
(``_admit_tls``): from the accept on, a connection counts against
``max_connections``, and it must have sent its first bytes and finished the
handshake within ``handshake_timeout`` seconds, else it is aborted and forgotten
(its TLS state, some 300 KB, goes with it). Its first bytes are looked at before
the handshake: plain text (``http://`` to a TLS port) fires ``not_tls(sock, data)``
when a handler listens for it, so the protocol above can answer in plain text (the
connection lingers once the handler is done); else it lingers at once. Only after the
handshake is the connection the app's: ``connect`` fires then.

One timer per server sweeps for idle connections: a connection marks itself
``active`` on every read and write; a sweep clears the mark and notes the time, and
a connection found unmarked for ``idle_timeout`` seconds is closed. That costs the
hot path one attribute store instead of rescheduling a timer per read.

Stopping (the tree stops, ``close()`` is fired, or the server is unregistered) is
graceful: stop accepting at once (connections the system accepted just before, whose
transport the loop makes a turn or two later, are let in and count as busy); close idle
connections; let *busy* ones (a
protocol still answering sets ``sock.busy``; ``read`` events not yet handled count
too) finish for up to ``shutdown_timeout``, closing each as it becomes idle (a few
times a second: stopping is rare, the hot path pays nothing for it); then close
the rest, abort those still sending after ``drain_timeout``, and fire ``closed()``.
The ``stopped`` handler runs in the ``Priority.STOP_TRANSPORTS`` band, so that a
protocol's own (``Priority.STOP_PROTOCOLS``) ``stopped`` handler marks its busy
connections before we look at them.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from functools import partial
from typing import Any

import attrs

from relays import NOT_DELIVERED, BaseComponent, Event, Priority, handler
from relays.transports import (
    Closed,
    Connect,
    Connected,
    Disconnect,
    Disconnected,
    Error,
    Ready,
    Unreachable,
)

from ._connection import SocketConnection
from ._limits import SocketLimits

__all__ = ["NotTLS", "StreamClient", "StreamServer", "make_limits"]

logger = logging.getLogger("relays.sockets")

#: Seconds between two warnings about refused connections.
REFUSAL_LOG_INTERVAL = 1.0
#: Seconds between two looks for busy connections that became idle while stopping.
SHUTDOWN_POLL_INTERVAL = 0.02
#: Loop turns a stopping server waits, after closing its listener, for the connections
#: accepted before the close to be handed over (see StreamServer._end).
ACCEPTED_BEFORE_CLOSE_TURNS = 2


class NotTLS(Event):
    """Server: ``not_tls(sock, data)``: a TLS server's new connection began with plain
    text (*data*, its first read, up to 16 KiB) instead of a TLS handshake.

    A handler may answer in plain text (``sock.write(...)``) to say the port speaks
    TLS; the connection lingers once the handlers are done. Without a handler it
    lingers at once (the peer sees the connection end). It counts against
    ``max_connections`` until gone, but is not the app's: no ``connect`` or
    ``disconnect``.
    """


def make_limits(limits: SocketLimits | None, overrides: dict[str, Any]) -> SocketLimits:
    """*limits* (default :class:`SocketLimits`) with the keyword *overrides* applied."""
    base = limits if limits is not None else SocketLimits()
    return attrs.evolve(base, **overrides) if overrides else base


class _Endpoint(BaseComponent):
    """The part every stream component has: limits, read buffer, start and stop hooks."""

    server_side = True

    def __init__(self, *, channel: Any, limits: SocketLimits) -> None:
        super().__init__(channel=channel)
        self.limits = limits
        self._buffer = memoryview(bytearray(limits.read_size))
        # One bound ``fire`` (and ``deliver``) shared by every connection, rather than
        # one per connection.
        self._fire = self.fire
        self._deliver = self.deliver
        self._started = False

    async def _begin(self) -> None:
        """Start listening or connecting; called once."""

    async def _end(self) -> None:
        """Stop gracefully; may be called more than once."""

    @handler("started", channel="*")
    async def _on_started(self, component: BaseComponent) -> None:
        if component is self.root and not self._started:
            self._started = True
            await self._begin()

    @handler("registered", channel="*")
    async def _on_registered(self, component: BaseComponent, parent: BaseComponent) -> None:
        if component is self and self.running and not self._started:
            self._started = True
            await self._begin()

    @handler("stopped", channel="*", priority=Priority.STOP_TRANSPORTS)
    async def _on_stopped(self, component: BaseComponent) -> None:
        if component is self.root:
            await self._end()

    @handler("unregistered", channel="*")
    async def _on_unregistered(self, component: BaseComponent, parent: BaseComponent) -> None:
        if component is self:
            await self._end()


class StreamServer(_Endpoint):
    """A listening stream server (base of :class:`TCPServer` and :class:`UNIXServer`)."""

    channel = "server"

    def __init__(
        self, *, channel: Any, limits: SocketLimits, ssl_context: ssl.SSLContext | None
    ) -> None:
        super().__init__(channel=channel, limits=limits)
        self.ssl_context = ssl_context
        #: The open connections, in the order they were accepted.
        self.connections: dict[SocketConnection, None] = {}
        #: The address listened on (the real port when bound to 0), once listening.
        self.address: Any = None
        #: Connections refused because ``max_connections`` were open.
        self.refused = 0
        # TLS connections accepted but not the app's yet (see the theory of operation):
        # each with the task taking its handshake.
        self._handshaking: dict[SocketConnection, asyncio.Task[None]] = {}
        self._server: asyncio.AbstractServer | None = None
        self._state = "new"
        self._ready: asyncio.Future[Any] | None = None
        self._all_closed: asyncio.Future[None] | None = None
        self._sweeper: asyncio.TimerHandle | None = None
        self._refusals_logged = 0
        self._last_refusal_log = float("-inf")

    @property
    def secure(self) -> bool:
        return self.ssl_context is not None

    @property
    def listening(self) -> bool:
        return self._state == "listening"

    def stop_listening(self) -> None:
        """Accept no more connections; those open go on until the server stops.

        The first step of a stop that cannot wait for the loop (relays-http calls it
        on SIGTERM): clients that come later get a refused connection, which a load
        balancer or a client retries elsewhere, rather than a slot on a server that
        is going away.
        """
        if self._server is not None:
            self._server.close()

    async def wait_ready(self, timeout: float | None = 10.0) -> Any:
        """Wait until the server listens and return its address.

        Raises the error that kept it from listening (:class:`OSError` for an address
        in use, say), or :class:`TimeoutError`.
        """
        if self._ready is None:
            self._ready = asyncio.get_running_loop().create_future()
            if self._state == "listening":
                self._ready.set_result(self.address)
        return await asyncio.wait_for(asyncio.shield(self._ready), timeout)

    async def _open(self, factory: Any) -> asyncio.AbstractServer:
        raise NotImplementedError

    def _listening_address(self, server: asyncio.AbstractServer) -> Any:
        raise NotImplementedError

    async def _begin(self) -> None:
        if self._state != "new":
            return
        self._state = "starting"
        try:
            secure = self.ssl_context is not None
            server = await self._open(partial(SocketConnection, self, secure))
        except Exception as error:
            self._state = "closed"
            logger.error("%s could not listen: %s", self.name, error)
            if self._ready is None:
                self._ready = asyncio.get_running_loop().create_future()
            if not self._ready.done():
                self._ready.set_exception(error)
                self._ready.exception()  # retrieved: wait_ready is optional
            self.fire(Error(None, error))
            return
        self._server = server
        self.address = self._listening_address(server)
        if self._state != "starting":  # stopped while we were binding
            server.close()
            return
        self._state = "listening"
        if self._ready is not None and not self._ready.done():
            self._ready.set_result(self.address)
        if self.limits.idle_timeout is not None:
            self._schedule_sweep()
        logger.info("%s listening on %r", self.name, self.address)
        self.fire(Ready(self, self.address))

    async def _end(self) -> None:
        if self._state in ("new", "starting"):
            self._state = "closed"
            return
        if self._state == "closed":
            return
        loop = asyncio.get_running_loop()
        if self._state == "closing":
            if self._all_closed is not None:
                await asyncio.shield(self._all_closed)
            return
        self._state = "closing"
        if self._sweeper is not None:
            self._sweeper.cancel()
            self._sweeper = None
        if self._server is not None:
            self._server.close()
            # Connections the system handed over before the close but whose transport
            # is not made yet: uvloop calls ``connection_made`` one loop turn after the
            # accept, asyncio's server two (a task, then the call). Let them arrive and
            # be served as part of the stop (see _admit), not reset once it is over.
            for _ in range(ACCEPTED_BEFORE_CLOSE_TURNS):
                await asyncio.sleep(0)
        for connection, handshake in list(self._handshaking.items()):
            handshake.cancel()
            connection.abort()
        self._all_closed = loop.create_future()
        if self.connections:
            await self._finish_busy(loop.time() + self.limits.shutdown_timeout)
        if self.connections:
            for connection in list(self.connections):
                connection.close()
            try:
                await asyncio.wait_for(asyncio.shield(self._all_closed), self.limits.drain_timeout)
            except TimeoutError:
                logger.warning(
                    "%s: %d connection(s) still sending after %s s, aborted",
                    self.name,
                    len(self.connections),
                    self.limits.drain_timeout,
                )
                for connection in list(self.connections):
                    connection.abort()
                await asyncio.shield(self._all_closed)
        elif not self._all_closed.done():
            self._all_closed.set_result(None)
        if self._server is not None:
            await self._server.wait_closed()
        self._state = "closed"
        self.fire(Closed())

    async def _finish_busy(self, deadline: float) -> None:
        """Close connections as they become idle, until none is left or *deadline*."""
        loop = asyncio.get_running_loop()
        while True:
            busy = 0
            for connection in list(self.connections):
                if connection.busy or connection.pending_reads:
                    busy += 1
                elif not connection.closing:
                    connection.close()
            if not busy or loop.time() >= deadline:
                break
            await asyncio.sleep(SHUTDOWN_POLL_INTERVAL)
        if busy:
            logger.warning(
                "%s: %d connection(s) still busy after %s s, closing them",
                self.name,
                busy,
                self.limits.shutdown_timeout,
            )

    # -- events ----------------------------------------------------------------------

    @handler("write")
    def _on_write(self, sock: SocketConnection, data: bytes) -> None:
        sock.write(data)

    @handler("close")
    async def _on_close(self, sock: SocketConnection | None = None) -> None:
        if sock is not None:
            sock.close()
        else:
            await self._end()

    # -- called by connections -------------------------------------------------------

    @property
    def handshaking(self) -> int:
        """TLS connections accepted whose handshake is not done (they count against
        ``max_connections``)."""
        return len(self._handshaking)

    def _admit(self, connection: SocketConnection) -> bool:
        """Whether a new connection may stay: listening, and below ``max_connections``
        with the handshakes under way."""
        if self._state != "listening":
            if self._state != "closing":
                return False
            # Accepted by the system before the listener closed, handed to us after:
            # asyncio's and uvloop's servers make a connection's transport a loop turn
            # after the accept. Its peer has sent its request already; refusing now
            # would reset it. It is served as a busy connection of the graceful stop.
            connection.busy = True
        limit = self.limits.max_connections
        if limit is not None and len(self.connections) + len(self._handshaking) >= limit:
            self._refuse(connection)
            return False
        return True

    def _admit_tls(self, connection: SocketConnection) -> bool:
        if not self._admit(connection):
            return False
        handshake = asyncio.get_running_loop().create_task(self._open_tls(connection))
        self._handshaking[connection] = handshake
        return True

    async def _open_tls(self, connection: SocketConnection) -> None:
        assert self.ssl_context is not None
        timeout = self.limits.handshake_timeout
        try:
            async with asyncio.timeout(timeout):
                first = await connection._accept_tls(self.ssl_context, timeout)
        except (OSError, TimeoutError) as error:  # ssl.SSLError and ConnectionError too
            logger.debug("%s: TLS handshake with %r failed: %r", self.name, connection, error)
            self._forget_handshake(connection)
            return
        except asyncio.CancelledError:
            self._forget_handshake(connection)
            raise
        if first is not None:
            self._not_tls(connection, first)
            return
        del self._handshaking[connection]
        if not self._accept(connection):
            connection.abort()  # the server stopped meanwhile
            return
        connection._start_reading()

    def _forget_handshake(self, connection: SocketConnection) -> None:
        # After a failed handshake the connection's end is never reported to it (the
        # TLS layer had taken its place): drop it here, and its TLS state with it.
        self._handshaking.pop(connection, None)
        connection.abort()

    def _not_tls(self, connection: SocketConnection, first: bytes) -> None:
        # It stays counted (in _handshaking) until it is gone (_lost).
        if not any(h.name == "not_tls" for h in self.handlers("not_tls", self.channel)):
            connection.linger()  # a close with its bytes unread would be a reset
            return

        def answered(value: Any) -> None:
            if not connection.closing:
                connection.linger()

        self.fire(NotTLS(connection, first), self.channel).add_done_callback(answered)

    def _accept(self, connection: SocketConnection) -> bool:
        if not self._admit(connection):
            return False
        self.connections[connection] = None
        # ``connect(sock, host, port)``; UNIX peers (a path or None) are never tuples.
        # Its handler is called at once when that is the same as firing (``deliver``).
        peer = connection.peer
        host, port = peer if type(peer) is tuple else (None, None)
        channel = self.channel
        if self.deliver(Connect, (channel,), connection, host, port) is NOT_DELIVERED:
            self._fire(Connect(connection, host, port), channel)
        return True

    def _refuse(self, connection: SocketConnection) -> None:
        self.refused += 1
        now = asyncio.get_running_loop().time()
        if now - self._last_refusal_log >= REFUSAL_LOG_INTERVAL:
            logger.warning(
                "%s refused %d connection(s) (latest from %r): max_connections=%d are open",
                self.name,
                self.refused - self._refusals_logged,
                connection.peer,
                self.limits.max_connections,
            )
            self._refusals_logged = self.refused
            self._last_refusal_log = now

    def _report(self, connection: SocketConnection, error: BaseException) -> None:
        self.fire(Error(connection, error))

    def _handles_eof(self) -> bool:
        """Whether a handler (not a catch-all one) listens for ``eof`` on our channel."""
        return any(h.name == "eof" for h in self.handlers("eof", self.channel))

    def _lost(self, connection: SocketConnection, error: BaseException | None) -> None:
        try:
            del self.connections[connection]
        except KeyError:
            self._handshaking.pop(connection, None)
            return  # refused, or before the TLS handshake: the app never saw it
        if error is not None:
            self.fire(Error(connection, error))
        channel = self.channel
        if self.deliver(Disconnect, (channel,), connection) is NOT_DELIVERED:
            self._fire(Disconnect(connection), channel)
        closing = self._all_closed
        if not self.connections and closing is not None and not closing.done():
            closing.set_result(None)

    # -- idle connections ------------------------------------------------------------

    def _schedule_sweep(self) -> None:
        timeout = self.limits.idle_timeout
        assert timeout is not None
        interval = min(max(timeout / 4, 0.05), 30.0)
        self._sweeper = asyncio.get_running_loop().call_later(interval, self._sweep)

    def _sweep(self) -> None:
        timeout = self.limits.idle_timeout
        assert timeout is not None
        now = asyncio.get_running_loop().time()
        for connection in list(self.connections):
            if connection.active or connection.sending_file:
                connection.active = False
                connection.idle_since = now
            elif now - connection.idle_since >= timeout:
                logger.debug("%s: closing %r, idle for %s s", self.name, connection, timeout)
                if connection.write_buffer_size:
                    connection.abort()  # a peer that reads nothing would never let it flush
                else:
                    connection.close()
        self._schedule_sweep()


class StreamClient(_Endpoint):
    """A stream client (base of :class:`TCPClient` and :class:`UNIXClient`)."""

    channel = "client"
    server_side = False

    def __init__(self, *, channel: Any, limits: SocketLimits, connect_timeout: float) -> None:
        super().__init__(channel=channel, limits=limits)
        self.connect_timeout = connect_timeout
        #: The connection, while connected.
        self.sock: SocketConnection | None = None
        self._target: tuple[Any, Any] = (None, None)

    @property
    def connected(self) -> bool:
        return self.sock is not None and not self.sock.closing

    async def _dial(self, factory: Any, host: Any, port: Any, secure: bool) -> None:
        raise NotImplementedError

    async def _connect_to(self, host: Any, port: Any, secure: bool) -> None:
        if self.connected:
            self.fire(Error(ConnectionError(f"{self.name} is already connected")))
            return
        self._target = (host, port)
        try:
            async with asyncio.timeout(self.connect_timeout):
                await self._dial(lambda: SocketConnection(self, secure), host, port, secure)
        except (OSError, TimeoutError, ValueError) as error:
            self.fire(Unreachable(host, port, error))

    async def _end(self) -> None:
        sock = self.sock
        if sock is None:
            return
        sock.close()
        try:
            await asyncio.wait_for(sock.wait_closed(), self.limits.drain_timeout)
        except TimeoutError:
            sock.abort()
            await sock.wait_closed()

    @handler("write")
    def _on_write(self, data: bytes) -> None:
        if self.sock is None:
            self.fire(Error(ConnectionError(f"{self.name} is not connected")))
        else:
            self.sock.write(data)

    @handler("close")
    async def _on_close(self) -> None:
        await self._end()

    def _admit_tls(self, connection: SocketConnection) -> bool:
        return False  # a client's TLS connection is made by asyncio, handshake done

    def _accept(self, connection: SocketConnection) -> bool:
        self.sock = connection
        self.fire(Connected(*self._target))
        return True

    def _report(self, connection: SocketConnection, error: BaseException) -> None:
        self.fire(Error(error))

    def _handles_eof(self) -> bool:
        return False  # clients keep circuits' behaviour: close after the pending reads

    def _lost(self, connection: SocketConnection, error: BaseException | None) -> None:
        if self.sock is connection:
            self.sock = None
        if error is not None:
            self.fire(Error(error))
        self.fire(Disconnected())
