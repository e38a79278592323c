"""One stream connection: the ``sock`` handle apps keep, and its asyncio protocol.

Theory of operation
-------------------
A :class:`SocketConnection` is both the :class:`relays.transports.Connection` handle
the app sees and the :class:`asyncio.BufferedProtocol` asyncio calls; one object per
connection keeps the hot path to one attribute lookup each way:

* bytes in: asyncio reads into the endpoint's shared read buffer (``get_buffer``) and
  calls ``buffer_updated``; we copy the bytes out and fire ``read`` at once. Sharing
  one buffer per endpoint is safe because asyncio calls ``buffer_updated`` right after
  filling it, before any other connection's read.
* bytes out: ``sock.write(data)`` goes straight to ``transport.write``.
* half-close: when the peer shuts down its sending side, a server fires
  ``eof(sock)`` if some handler listens for it (the protocol then closes when it
  is done answering), else closes once the pending ``read`` events are handled.

Reading from a peer pauses for any of three reasons, kept as bits in ``_paused`` so
one reason ending does not resume reading while another holds: the app asked
(``pause_reading``), the write buffer is above its high-water mark (asyncio's
``pause_writing``: a peer that does not read what we send cannot make us buffer
without bound), or too many of this peer's ``read`` events are still being handled
(slow ``async`` handlers cannot make the event queue grow without bound).

A ``read`` event's value is watched (``_read_done``) to count pending reads and for
circuits' echo shortcut: when a server's ``read`` handlers return bytes, they are
written back. The endpoint (server or client component) decides which events a
connection's life produces; see :class:`Endpoint`.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
import struct
from collections.abc import Callable
from typing import IO, TYPE_CHECKING, Any, Protocol, cast

from relays import NOT_DELIVERED, Value
from relays.transports import Connection, Eof, Read

from ._copying import send_file
from ._own_transport import SocketTransport, start_tls_takes_ours
from ._tls import looks_like_tls

if TYPE_CHECKING:
    from ._limits import SocketLimits

__all__ = ["Endpoint", "SocketConnection"]

#: ``local`` not asked of the transport yet.
_UNKNOWN: Any = object()

_BY_APP = 1
_BY_WRITE_BUFFER = 2
_BY_PENDING_READS = 4


class Endpoint(Protocol):
    """What a connection needs from the component that owns it."""

    limits: SocketLimits
    server_side: bool
    channel: Any
    #: Where connections read into (see the theory of operation above).
    _buffer: memoryview

    def fire(self, event: Any, *channels: Any) -> Value: ...

    def _fire(self, event: Any, *channels: Any) -> Value: ...

    def _deliver(self, kind: Any, channels: tuple[Any, ...], *args: Any) -> Any: ...

    def _accept(self, connection: SocketConnection) -> bool: ...

    def _admit_tls(self, connection: SocketConnection) -> bool: ...

    def _report(self, connection: SocketConnection, error: BaseException) -> None: ...

    def _lost(self, connection: SocketConnection, error: BaseException | None) -> None: ...

    def _handles_eof(self) -> bool: ...


class SocketConnection(Connection, asyncio.BufferedProtocol):
    """A TCP, TLS or UNIX stream connection (the ``sock`` of the events).

    Compare it by identity and use it as a dict key. Besides the
    :class:`~relays.transports.Connection` contract it offers :meth:`drain`,
    :meth:`sendfile` and :meth:`start_tls`. The ``connection_made``, ``get_buffer``,
    ``buffer_updated``, ``eof_received``, ``connection_lost``, ``pause_writing`` and
    ``resume_writing`` methods are asyncio's protocol callbacks, not for apps.
    """

    # What the common path (connect, read, write, close, lost) never reads until it
    # is set starts as a class default, so that a connection's set-up writes less.
    # (What is read per read or write is set in __init__: CPython finds an instance's
    # own attribute faster than a class default.)
    _transport: asyncio.Transport | None = None  # set by connection_made
    _local: Any = _UNKNOWN  # see ``local``
    _eof_owned = False  # an ``eof`` handler closes the connection, not we
    _lost = False
    _drain_waiters: list[asyncio.Future[None]] | None = None  # made on first use
    _lost_waiter: asyncio.Future[None] | None = None
    _holding: _Holding | None = None  # see _accept_tls
    #: Set by a protocol while it is in the middle of an answer. A graceful stop
    #: closes idle connections at once but lets busy ones (and those with
    #: ``read`` events not handled yet) finish, up to ``shutdown_timeout``,
    #: closing each as soon as it is neither. relays-http sets it when stopping.
    busy = False
    #: Set by every read and write; the idle sweep clears it (see the endpoints).
    active = True
    idle_since = 0.0
    #: The task inside :meth:`sendfile`, if any: the connection is not idle then,
    #: and closing waits for the transfer to be cancelled (see :meth:`close`).
    _sendfile_task: asyncio.Task[Any] | None = None
    _close_after_sendfile: str | None = None
    #: Bytes of a file being sent (see _copying) that the kernel has not taken yet.
    _file_unsent = 0

    def __init__(self, endpoint: Endpoint, secure: bool = False) -> None:
        self._endpoint = endpoint
        self._fire = endpoint._fire  # the endpoint's one bound ``fire``
        self._deliver = endpoint._deliver  # and ``deliver``
        # Bound once rather than per read. That makes a cycle (self -> method -> self),
        # which connection_lost breaks: the method must not keep a closed connection.
        self._read_callback: Callable[[Value], None] = self._read_done
        self._channel = endpoint.channel  # given to fire(): saves finding it per read
        self._server_side = endpoint.server_side
        limits = endpoint.limits
        self._limits = limits
        self._max_pending_reads = limits.max_pending_reads
        # The endpoint knows whether it speaks TLS: asking the transport costs a call.
        # A server's connection is accepted plain and upgraded by its endpoint (see
        # StreamServer): until then it is not secure yet.
        self._handshake_due = secure and endpoint.server_side
        self.secure = secure and not self._handshake_due
        self._view = endpoint._buffer
        self._closing = False
        self._paused = 0
        self._pending_reads = 0
        self._eof = False
        self._written = 0  # bytes given to the transport: see bytes_sent

    # -- the handle ------------------------------------------------------------------

    def write(self, data: bytes | bytearray | memoryview) -> None:
        """Queue *data* for sending; on a closed connection fire ``error`` instead."""
        transport = self._transport
        if self._closing or transport is None or transport.is_closing():
            self._endpoint._report(self, ConnectionError(f"write on a closed connection {self!r}"))
            return
        transport.write(data)
        self._written += len(data)
        self.active = True

    def close(self) -> None:
        """Close once queued data is sent; ``disconnect`` follows."""
        if not self._closing:
            self._closing = True
            if self._sendfile_task is not None and self._defer_close("close"):
                return
            transport = self._transport
            if transport is not None:
                transport.close()

    def linger(self, timeout: float | None = None) -> None:
        """Close when the peer may still be sending: our side stops sending once the
        queued data is out, and what still comes is read and discarded until the peer
        ends or for *timeout* seconds (``limits.linger_timeout``), so that it cannot
        reset the connection before the peer has read our reply.

        Every plain TCP and UNIX connection lingers, whatever the loop and transport;
        TLS cannot stop sending and stay open (no half-close), so it closes."""
        transport = self._transport
        if (
            self._closing
            or transport is None
            or self._eof
            or self._sendfile_task is not None
            or not transport.can_write_eof()
        ):
            self.close()
            return
        self._closing = True
        seconds = self._limits.linger_timeout if timeout is None else timeout
        # From now on the transport talks to a protocol that throws what it reads away
        # and hands the end of the connection back to us.
        _Discarding(self, transport, seconds)

    def abort(self) -> None:
        """Close at once, dropping queued data; ``disconnect`` follows."""
        self._closing = True
        if self._defer_close("abort"):
            return
        if self._transport is not None:
            self._transport.abort()

    def reset(self) -> None:
        """Like :meth:`abort`, and drop what the system still holds for the peer too: the
        peer gets a connection reset. After a plain close or abort the system goes on
        sending what it had buffered (several MB on loopback) to a peer that reads slowly,
        for as long as that peer likes; a peer dropped for reading too slowly is reset."""
        transport = self._transport
        if transport is not None and not self._lost:
            _reset_on_close(transport)
        self.abort()

    def _defer_close(self, how: str) -> bool:
        # Closing the transport under a running loop.sendfile() makes asyncio (3.11)
        # fail an internal future twice (InvalidStateError): cancel the transfer and
        # close when it has unwound instead.
        task = self._sendfile_task
        if task is None or task.done():
            return False
        self._close_after_sendfile = how
        task.cancel()
        return True

    @property
    def sending_file(self) -> bool:
        """True while :meth:`sendfile` runs: the connection is busy, not idle."""
        return self._sendfile_task is not None

    @property
    def closing(self) -> bool:
        return self._closing

    @property
    def write_buffer_size(self) -> int:
        """Bytes queued but not yet sent: written, or of a file :meth:`sendfile` sends."""
        return self._buffered() + self._file_unsent

    @property
    def bytes_sent(self) -> int:
        """Bytes written (``write``, the echo of ``read`` handlers, and :meth:`sendfile` as
        the system takes each step) that have been sent, since the connection opened:
        what a peer has been given to read. With :attr:`write_buffer_size` it tells how
        fast a peer reads (relays-http's minimum response rate)."""
        return self._written - self._buffered()

    def _buffered(self) -> int:
        """Bytes the transport holds, written and not yet sent."""
        transport = self._transport
        if transport is None or self._lost:
            return 0
        return transport.get_write_buffer_size()

    def _file_waiting(self, count: int) -> None:
        """*count* bytes of a file are about to be sent past the transport (0: done)."""
        self._file_unsent = count

    def _file_sent(self, count: int) -> None:
        """The system took *count* bytes of the file being sent."""
        self._file_unsent -= count
        self._written += count
        self.active = True

    def pause_reading(self) -> None:
        """Stop delivering ``read`` events until :meth:`resume_reading`."""
        self._pause(_BY_APP)

    def resume_reading(self) -> None:
        """Deliver ``read`` events again (unless backpressure still holds them)."""
        self._resume(_BY_APP)

    @property
    def pending_reads(self) -> int:
        """``read`` events of this connection fired but not yet handled."""
        return self._pending_reads

    @property
    def reading(self) -> bool:
        """False while reading from the peer is paused, for whatever reason."""
        return not self._paused

    @property
    def local(self) -> Any:
        """Our end's address: ``(host, port)`` for IP, a path or None for UNIX.

        Asked of the transport on first use: most connections never need it.
        """
        local = self._local
        if local is _UNKNOWN:
            transport = self._transport
            sockname = None if transport is None else transport.get_extra_info("sockname")
            local = self._local = _address(sockname)
        return local

    @local.setter
    def local(self, address: Any) -> None:
        self._local = address

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        """asyncio's transport details: ``"peercert"``, ``"sslcontext"``, ``"socket"``,
        ``"sockname"``, ``"peername"``, ``"ssl_object"``, ``"cipher"``..."""
        transport = self._transport
        return default if transport is None else transport.get_extra_info(name, default)

    @property
    def peer_certificate(self) -> dict[str, Any] | None:
        """The peer's verified certificate (TLS with client verification), else None."""
        certificate: dict[str, Any] | None = self.get_extra_info("peercert")
        return certificate or None

    async def drain(self) -> None:
        """Wait until the write buffer is below its low-water mark.

        Raises :class:`ConnectionError` when the connection closes meanwhile.
        """
        if self._lost:
            raise ConnectionError(f"{self!r} is closed")
        if not self._paused & _BY_WRITE_BUFFER:
            return
        waiter = asyncio.get_running_loop().create_future()
        if self._drain_waiters is None:
            self._drain_waiters = []
        self._drain_waiters.append(waiter)
        await waiter

    async def sendfile(self, file: IO[bytes], offset: int = 0, count: int | None = None) -> int:
        """Send *count* bytes (default: to the end) of the binary *file* from *offset*.

        Uses the kernel's ``sendfile`` on plain TCP and UNIX connections for a regular
        file, on every loop, in steps whose progress :attr:`bytes_sent` and
        :attr:`write_buffer_size` show as the peer takes them. With TLS, or a file the
        kernel cannot send, it reads and writes in chunks, waiting for the peer between
        them. Write nothing else until it returns (it would go out in the middle of the
        file). Returns the bytes sent; raises :class:`ConnectionError` when the
        connection is closed.
        """
        transport = self._transport
        if self._closing or transport is None or transport.is_closing():
            raise ConnectionError(f"sendfile on a closed connection {self!r}")
        self.active = True
        self._sendfile_task = asyncio.current_task()
        try:
            return await send_file(self, transport, file, offset, count)
        finally:
            self._sendfile_task = None
            self.active = True
            how, self._close_after_sendfile = self._close_after_sendfile, None
            if how is not None and self._transport is not None:
                if how == "abort":
                    self._transport.abort()
                else:
                    self._transport.close()

    async def _flushed(self) -> None:
        """Wait until the transport has sent everything it buffered (for
        :func:`~relays_sockets._copying.send_file`, which writes past it)."""
        transport = self._transport
        if transport is None or not transport.get_write_buffer_size():
            return
        low, high = transport.get_write_buffer_limits()
        transport.set_write_buffer_limits(high=0, low=0)  # pause now, resume when empty
        try:
            await self.drain()
        finally:
            transport.set_write_buffer_limits(high=high, low=low)

    async def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        *,
        server_hostname: str | None = None,
        handshake_timeout: float | None = None,
    ) -> None:
        """Upgrade this plain connection to TLS (STARTTLS), on the same handle.

        Call it right after writing the protocol's "go ahead" reply: reading pauses
        at once, so the peer's handshake is never delivered as a ``read``. A server
        connection takes the server side of the handshake, a client one the client
        side (then *server_hostname* is checked, default: the peer's host).
        Raises :class:`ssl.SSLError` or :class:`TimeoutError` when the handshake fails;
        the connection is closed then.
        """
        transport = self._transport
        if self._closing or transport is None or transport.is_closing():
            raise ConnectionError(f"start_tls on a closed connection {self!r}")
        if self.secure:
            raise RuntimeError(f"{self!r} is already encrypted")
        if not self._server_side and server_hostname is None and isinstance(self.peer, tuple):
            server_hostname = str(self.peer[0])
        holding = await self._upgrade(
            transport,
            ssl_context,
            server_hostname,
            handshake_timeout or self._limits.handshake_timeout,
            b"",
        )
        holding.hand_over(self)

    async def _upgrade(
        self,
        transport: asyncio.Transport,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None,
        timeout: float,
        already_read: bytes,
    ) -> _Holding:
        """Take the TLS handshake on *transport*, then carry the connection over it.
        *already_read*: the peer's first bytes, read before the TLS layer was there.
        What the peer sends from then on waits in the returned object until it is
        handed over to us."""
        loop = asyncio.get_running_loop()
        # What the TLS layer delivers before this coroutine resumes (the peer may send
        # right after its handshake) waits in `holding`: given to us directly, it would
        # be answered through the plain transport, unencrypted.
        holding = _Holding()
        before = transport.get_protocol()
        if isinstance(transport, SocketTransport) and not start_tls_takes_ours(loop):
            # relays' own transport on a loop whose start_tls wraps only its own
            # (uvloop): the loop takes the socket over. Only servers' connections sit on
            # our transport, and only plain servers' there (nothing read before the TLS).
            assert self._server_side
            assert not already_read
            upgrading: asyncio.Future[asyncio.Transport | None] = asyncio.ensure_future(
                transport.hand_over_tls(holding, ssl_context, timeout)
            )
        else:
            upgrading = asyncio.ensure_future(
                loop.start_tls(
                    transport,
                    holding,
                    ssl_context,
                    server_side=self._server_side,
                    server_hostname=server_hostname,
                    ssl_handshake_timeout=timeout,
                )
            )
        try:
            if already_read:
                # start_tls puts its TLS protocol on the transport in its first step
                # (one loop turn; it gives no other sign); the bytes read already go to
                # that protocol, as if read now: before or after its connection_made,
                # a TLS protocol keeps what it is given until the handshake reads it.
                while transport.get_protocol() is before and not upgrading.done():  # noqa: ASYNC110
                    await asyncio.sleep(0)
                if not upgrading.done():
                    _feed(transport.get_protocol(), already_read)
            upgraded = await upgrading
        except BaseException:
            upgrading.cancel()
            self.abort()
            # The transport under the failed handshake reports its end to the TLS layer
            # that had taken our place, which tells no one: say it here, so that the
            # endpoint forgets the connection (``disconnect``). The caller has the error.
            if not self._lost:
                self.connection_lost(None)
            raise
        if upgraded is None:  # the connection was lost during the handshake
            raise ConnectionError(f"{self!r} closed during the TLS handshake")
        self._transport = upgraded
        self.secure = True
        upgraded.set_write_buffer_limits(
            self._limits.write_high_water, self._limits.write_low_water
        )
        if self._paused:
            upgraded.pause_reading()
        return holding

    async def _accept_tls(self, context: ssl.SSLContext, timeout: float) -> bytes | None:
        """The server side of a TLS connection, before the app sees it: read the peer's
        first bytes, then take the handshake with them. None once encrypted; the first
        bytes when they are plain text, not TLS (the peer sent ``http://`` to a TLS
        port, say), the connection then reading nothing more until told. Raises
        :class:`ConnectionError` when the peer left first, :class:`ssl.SSLError` or
        :class:`TimeoutError` when the handshake failed."""
        transport = self._transport
        assert transport is not None
        greeting = transport.get_protocol()
        assert isinstance(greeting, _FirstBytes)
        first = await greeting.received
        if not first or self._lost:
            raise ConnectionError(f"{self!r} closed before its TLS handshake")
        self._handshake_due = False
        transport.set_protocol(self)
        if not looks_like_tls(first):
            return first
        self._holding = await self._upgrade(transport, context, None, timeout, first)
        return None

    def _start_reading(self) -> None:
        """Deliver what came since the TLS handshake, and all that follows (called by
        the endpoint once it has fired ``connect``)."""
        holding, self._holding = self._holding, None
        if holding is not None:
            holding.hand_over(self)

    async def wait_closed(self) -> None:
        """Wait until the connection is gone (``disconnect`` has been fired)."""
        if self._lost:
            return
        if self._lost_waiter is None:
            self._lost_waiter = asyncio.get_running_loop().create_future()
        await asyncio.shield(self._lost_waiter)

    # -- backpressure ----------------------------------------------------------------

    def _pause(self, reason: int) -> None:
        if not self._paused:
            transport = self._transport
            if transport is not None and not transport.is_closing():
                transport.pause_reading()
        self._paused |= reason

    def _resume(self, reason: int) -> None:
        if not self._paused & reason:
            return
        self._paused &= ~reason
        if not self._paused:
            transport = self._transport
            if transport is not None and not transport.is_closing():
                transport.resume_reading()

    def _read_done(self, value: Value) -> None:
        pending = self._pending_reads = self._pending_reads - 1
        if self._paused & _BY_PENDING_READS and pending <= self._max_pending_reads // 2:
            self._resume(_BY_PENDING_READS)
        result = value.result
        if result is not None and self._server_side and not value.errors:
            # The usual echo, bytes on an open connection, is written here, sparing a call.
            transport = self._transport
            if (
                type(result) is bytes
                and not self._closing
                and transport is not None
                and not transport.is_closing()
            ):
                transport.write(result)
                self._written += len(result)
            else:
                self._echo(result)
        if self._eof and not pending and not self._eof_owned:
            self.close()

    def _echo(self, result: Any) -> None:
        """circuits' echo shortcut: what a server's ``read`` handlers return, when it is
        bytes, is written back (an exact type check first: bytes is the usual case)."""
        if type(result) is Value:  # a delivered handler returned another event's value
            result.add_done_callback(self._echo_chained)
            return
        if type(result) is bytes or isinstance(result, bytearray | memoryview):
            transport = self._transport
            if self._closing or transport is None or transport.is_closing():
                self.write(result)  # reports the error
            else:
                transport.write(result)
                self._written += len(result)

    def _echo_chained(self, value: Value) -> None:
        if not value.errors and value.result is not None:
            self._echo(value.result)

    # -- asyncio protocol callbacks --------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # Duck-typed: uvloop's transports have the stream transport's methods but
        # do not derive from asyncio.Transport.
        transport = cast("asyncio.Transport", transport)
        self._transport = transport
        peer = transport.get_extra_info("peername")
        # An IPv4 pair is kept as it is (the usual case, checked inline: no call).
        self.peer = peer if type(peer) is tuple and len(peer) == 2 else _address(peer)
        limits = self._limits
        transport.set_write_buffer_limits(limits.write_high_water, limits.write_low_water)
        if self._handshake_due:
            # The first bytes go to the endpoint's handshake (see _accept_tls).
            transport.set_protocol(_FirstBytes(self))
            admitted = self._endpoint._admit_tls(self)
        else:
            admitted = self._endpoint._accept(self)
        if not admitted:
            self._closing = True
            transport.abort()

    def get_buffer(self, sizehint: int) -> memoryview:
        return self._view

    def buffer_updated(self, nbytes: int) -> None:
        # The hot path: one copy of the data, then the ``read`` handler called at once
        # when that is the same as firing (``deliver``), else one event, one callback.
        data = self._view[:nbytes].tobytes()
        self.active = True
        if self._server_side:
            result = self._deliver(Read, (self._channel,), self, data)
            if result is not NOT_DELIVERED:
                if result is not None:
                    self._echo(result)
                return
            value = self._fire(Read(self, data), self._channel)
        else:
            if self._deliver(Read, (self._channel,), data) is not NOT_DELIVERED:
                return
            value = self._fire(Read(data), self._channel)
        pending = self._pending_reads = self._pending_reads + 1
        if pending > self._max_pending_reads:
            self._pause(_BY_PENDING_READS)
        value.add_done_callback(self._read_callback)

    def eof_received(self) -> bool:
        # The peer half-closed: it sends no more but may still read. TLS cannot stay
        # half-open (asyncio closes it whatever we answer). A server whose protocol
        # listens for ``eof`` gets the event, after the reads already queued, and
        # closes the connection itself once it has answered (an HTTP/1.0 client, a
        # ``shutdown(SHUT_WR)``); otherwise we close once those reads are handled, so
        # their replies (the echo shortcut, say) still go out.
        if self.secure:
            return False
        self._eof = True
        if self._server_side and self._endpoint._handles_eof():
            self._eof_owned = True
            self._fire(Eof(self))
        elif not self._pending_reads:
            self.close()
        return True

    def connection_lost(self, exc: Exception | None) -> None:
        if self._lost:  # once only (see _upgrade)
            return
        self._closing = True
        self._lost = True  # the transport is kept: its details stay readable
        self._read_callback = _ignore_read  # no more reads: break the cycle
        waiters = self._drain_waiters
        if waiters is not None:
            self._drain_waiters = None
            for waiter in waiters:
                if not waiter.done():
                    waiter.set_exception(ConnectionError(f"{self!r} closed"))
        lost_waiter = self._lost_waiter
        if lost_waiter is not None and not lost_waiter.done():
            lost_waiter.set_result(None)
        self._endpoint._lost(self, exc)

    def pause_writing(self) -> None:
        self._pause(_BY_WRITE_BUFFER)

    def resume_writing(self) -> None:
        self._resume(_BY_WRITE_BUFFER)
        waiters, self._drain_waiters = self._drain_waiters, None
        for waiter in waiters or ():
            if not waiter.done():
                waiter.set_result(None)


class _FirstBytes(asyncio.BufferedProtocol):
    """The protocol of a TLS server's connection until its first bytes came: keeps
    them (``received``) and stops reading, or passes the end of the connection on."""

    # Shared: what a read puts here is copied out at once.
    _scratch = memoryview(bytearray(16 * 1024))

    def __init__(self, connection: SocketConnection) -> None:
        self._connection = connection
        self.received: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()

    def get_buffer(self, sizehint: int) -> memoryview:
        return self._scratch

    def buffer_updated(self, nbytes: int) -> None:
        if not self.received.done():
            transport = self._connection._transport
            assert transport is not None
            transport.pause_reading()
            self.received.set_result(self._scratch[:nbytes].tobytes())

    def eof_received(self) -> bool:
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.received.done():
            self.received.set_result(b"")
        self._connection.connection_lost(exc)


def _feed(protocol: Any, data: bytes) -> None:
    """Deliver *data* to *protocol* as its transport would, buffered or not."""
    if not hasattr(protocol, "buffer_updated"):
        protocol.data_received(data)
        return
    view = memoryview(data)
    while view:
        buffer = protocol.get_buffer(len(view))
        size = min(len(buffer), len(view))
        buffer[:size] = view[:size]
        protocol.buffer_updated(size)
        view = view[size:]


class _Holding(asyncio.Protocol):
    """The protocol of a connection while its TLS handshake completes (see
    :meth:`SocketConnection.start_tls`): keeps what arrives for the connection."""

    def __init__(self) -> None:
        self._received: list[bytes] = []
        self._eof = False
        self._lost: tuple[Exception | None] | None = None

    def data_received(self, data: bytes) -> None:
        self._received.append(data)

    def eof_received(self) -> bool:
        self._eof = True
        return True  # the connection decides, once it is handed over

    def connection_lost(self, exc: Exception | None) -> None:
        self._lost = (exc,)

    def hand_over(self, connection: SocketConnection) -> None:
        """Make *connection* the TLS transport's protocol, and give it what came
        meanwhile, in order, as if it had come now."""
        transport = connection._transport
        assert transport is not None
        transport.set_protocol(connection)
        view = connection.get_buffer(-1)
        for data in self._received:
            for start in range(0, len(data), len(view)):
                piece = data[start : start + len(view)]
                view[: len(piece)] = piece
                connection.buffer_updated(len(piece))
        self._received.clear()
        if self._eof and not connection.eof_received():
            connection.close()
        if self._lost is not None:
            connection.connection_lost(self._lost[0])


class _Discarding(asyncio.BufferedProtocol):
    """The protocol of a lingering connection (see :meth:`SocketConnection.linger`):
    sends the end of our data (``write_eof`` once the buffer is out), reads and drops
    what the peer still sends, closes when the peer ends or after *timeout* seconds
    (abort), and passes ``connection_lost`` on to the connection."""

    _scratch = memoryview(bytearray(16 * 1024))  # shared: what it holds is never read

    def __init__(
        self, connection: SocketConnection, transport: asyncio.Transport, timeout: float
    ) -> None:
        self._connection = connection
        self._transport = transport
        self._deadline = asyncio.get_running_loop().call_later(timeout, transport.abort)
        transport.set_protocol(self)
        transport.write_eof()
        transport.resume_reading()

    def get_buffer(self, sizehint: int) -> memoryview:
        return self._scratch

    def buffer_updated(self, nbytes: int) -> None:
        pass

    def eof_received(self) -> bool:
        return False  # the transport closes, once our data is out

    def connection_lost(self, exc: Exception | None) -> None:
        self._deadline.cancel()
        self._connection.connection_lost(exc)


#: ``SO_LINGER`` on with a timeout of 0: closing the socket resets the connection and
#: drops what the system had not sent yet.
_LINGER_NONE = struct.pack("ii", 1, 0)


def _reset_on_close(transport: asyncio.BaseTransport) -> None:
    """Make closing *transport*'s socket reset the connection (see :meth:`abort`)."""
    sock = transport.get_extra_info("socket")
    if sock is None:
        return
    # Closed already, or not a socket that lingers (a pipe): nothing is held then.
    with contextlib.suppress(OSError, AttributeError, ValueError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _LINGER_NONE)


def _address(name: Any) -> Any:
    """``(host, port)`` for IP (IPv6's flow info and scope dropped), a path or None."""
    if type(name) is tuple:
        return name if len(name) == 2 else (name[0], name[1])
    return name or None


def _ignore_read(value: Value) -> None:
    """The read callback of a closed connection (see ``SocketConnection.__init__``)."""
