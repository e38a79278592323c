"""relays-sockets' own transport and listener for plain TCP, on any loop that watches sockets.

This is the one module of relays-sockets that reaches below asyncio's public API: it is
a speed trick, kept here alone, with an off switch and a public fallback for each
private name it uses.

Why
---
asyncio's selector transport is general: at set-up it asks the kernel for the local
address, registers itself in the loop's table of transports, and schedules three
callbacks (``connection_made``, starting to read, its waiter) for the next loop turn;
asyncio's server accepts every connection through a task (a coroutine, the future it
waits on, two more trips around the loop) so that a TLS handshake can fail in one
place. A short connection (one HTTP request with ``Connection: close``) pays all of
that: measured on a bare asyncio protocol, about a third of the server's CPU per such
request. uvloop's transports run less Python but make more system calls per
connection (``TCP_NODELAY`` set again, both addresses asked, the socket registered)
and read only after one more trip through epoll, even when deferred accepting
guarantees the request is there: on uvloop too this module serves a short
connection with about a third less CPU (``benchmarks/http.py``). The proactor loop
cannot watch a socket for readiness, so it keeps its own.

What
----
:class:`Listener` takes over the listening sockets of a plain TCP server on a
selector loop (asyncio binds them, with every option ``create_server`` has, but never
starts serving; we keep duplicates and close asyncio's server). When one is readable
it accepts up to ``backlog`` connections and gives each a :class:`SocketTransport`
at once: ``connection_made`` is called in the same step, the reader registered in the
same step, the local address is the listener's when that is a single address. With
*eager* (the system defers accepting until the peer has sent something,
``TCP_DEFER_ACCEPT``) the first read happens before registering anything, so an
answered-and-closed connection never touches the selector. Running out of file
descriptors or memory rests that listening socket for a second (logged), as asyncio
does, instead of spinning on a socket that stays readable.

It needs of the loop only public methods every selector-style loop has:
``add_reader``/``add_writer`` and their removal, ``call_soon``, ``call_later``. So it runs
on asyncio's selector loops and on uvloop alike (:func:`chosen` asks the loop whether it
can watch a socket, rather than asking which loop it is).

Contract
--------
A :class:`SocketTransport` is an :class:`asyncio.Transport` with asyncio's behaviour
where a protocol can see it: ``write`` sends at once and buffers only what the kernel
did not take, with ``pause_writing``/``resume_writing`` at the water marks; ``close``
waits for the buffer; ``connection_lost`` never comes inside the call that closed: when
the protocol closed inside one of its callbacks that a step of ours called (a read
answered and closed), it comes as soon as that callback has returned, in the same step,
as asyncio's own transports call it from their write step once the buffer is out;
otherwise on a later loop turn (``call_soon``). ``eof_received`` returning true keeps a
half-closed connection open for writing; ``set_protocol`` switches protocols; buffered
and plain protocols both work. Every connection has ``TCP_NODELAY`` set, as asyncio's
and uvloop's transports do. ``tests/plugins/sockets/test_transport.py`` runs the same
conformance suite over this transport on both loops, asyncio's transport and uvloop's.

TLS over it (STARTTLS, and a TLS server's handshake after its first bytes were looked
at): asyncio's ``loop.start_tls`` wraps any transport that says it may
(``_start_tls_compatible``, below). uvloop's wraps only its own transports; there
:meth:`SocketTransport.hand_over_tls` gives the socket up to the loop, which makes its
own TLS transport on it (``loop.connect_accepted_socket``, public), after our write
buffer is out. That takes no bytes already read from the socket, so a TLS *server*
(which reads a connection's first bytes before its handshake) keeps the loop's own
server on such loops; a plain server's connections upgrade either way. Files go out
through the kernel's ``sendfile`` on the socket itself (``relays_sockets._copying``),
past any transport, on every loop.

Private names, and what happens without them
--------------------------------------------
* ``socket.socket._accept`` and ``_socket.socket``: accepting through the C-level
  socket skips ``socket.socket``'s Python ``accept`` and its enum-typed ``family`` and
  ``type`` (about 28k instructions per connection). Without them: ``accept()``.
* ``asyncio.trsock.TransportSocket``: what ``get_extra_info("socket")`` returns, as on
  asyncio's transports (a socket that refuses calls that would break the transport).
  Without it: the socket itself.
* ``_start_tls_compatible``: the attribute ``loop.start_tls`` looks for before it wraps
  a transport that is not its own (STARTTLS). Without it being read: no harm.

Choosing it
-----------
:func:`chosen` says whether a server uses it: only on an :class:`asyncio.SelectorEventLoop`,
for plain TCP (TLS and UNIX servers keep asyncio's server), unless turned off with
``TCPServer(fast_transport=False)`` or ``RELAYS_FAST_TRANSPORT=0`` in the environment
(for a suspected bug: behaviour is the same, only slower).
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import os
import socket
from collections.abc import Callable
from typing import Any

__all__ = ["UNKNOWN", "Listener", "SocketTransport", "chosen"]

logger = logging.getLogger("relays.sockets")

#: The environment variable that turns this module off when set to ``0``.
SWITCH = "RELAYS_FAST_TRANSPORT"
#: Seconds a listening socket rests after the system ran out of descriptors or memory.
ACCEPT_RETRY_DELAY = 1.0
#: Connections accepted per readiness when each is read at once (deferred accept). Each
#: is answered and closed (``connection_lost``) in the step that accepts it; a short
#: batch lets the loop's other callbacks and I/O come between batches. Measured with
#: ``benchmarks/http.py`` (``wrk -c50``, ``Connection: close``) when the closes came a
#: loop turn later, so that a batch held its finished connections open until it ended:
#: 32 gave about 15,000 requests/s and a p99 of 17-26 ms; 2 to 8 gave 17,500-23,500 and
#: 4-6 ms.
EAGER_BATCH = 4
#: Readinesses between two looks for a second waiting connection, while an eager
#: listener's connections come one at a time. Looking means one more accept, and when
#: nothing waits that accept fails: a ``BlockingIOError`` made and dropped, about 7,700
#: instructions, 4% of a short connection. Between looks each readiness takes one
#: connection, and one that came meanwhile keeps the listening socket readable: the loop
#: calls again on its next turn. A look that finds one starts batches again.
LOOK_AGAIN_EVERY = 8
#: The flag that makes one receive or send non-blocking whatever the socket's mode: with
#: it a new connection needs no ``setblocking(False)`` (an ``ioctl``, one system call per
#: connection, a sixth of a short connection's); its socket is made non-blocking only
#: when handed out (``get_extra_info("socket")``), or at once when it has a timeout
#: (``socket.setdefaulttimeout``: CPython then polls before each call). Where the system
#: has no such flag (Windows), the listener sets every connection non-blocking instead.
_DONTWAIT: int = getattr(socket, "MSG_DONTWAIT", 0)
#: What a step's writes go out with when the step also closed the connection: "more to
#: come" keeps the data in the kernel until the close, which then sends the FIN in the
#: same segment. A ``Connection: close`` answer so takes one segment instead of two, and
#: the peer acknowledges once: 8 segments per short connection instead of 10 on
#: loopback (see SocketTransport.write). Where there is no such flag, a plain send.
_LAST_SEND: int = _DONTWAIT | getattr(socket, "MSG_MORE", 0)
#: Bytes a step of ours holds back to send at its end (see SocketTransport.write).
_HOLD_LIMIT = 64 * 1024
_WILDCARDS = frozenset({"0.0.0.0", "::", ""})
_OUT_OF_RESOURCES = frozenset({errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM})


# -- the private names, each with its public fallback ---------------------------------

_TransportSocket: Any = getattr(getattr(asyncio, "trsock", None), "TransportSocket", None)


def _guarded(sock: Any) -> Any:
    """The socket as ``get_extra_info("socket")`` gives it (see the module's docstring)."""
    return sock if _TransportSocket is None else _TransportSocket(sock)


def _accept_public(listening: socket.socket, family: int, kind: int, proto: int) -> Any:
    """``(connection, address)`` through the public API."""
    return listening.accept()


def _accept_c_level(listening: socket.socket, family: int, kind: int, proto: int) -> Any:
    """``(connection, address)``, the connection being the C-level socket that
    :class:`socket.socket` wraps (see the module's docstring), of the listening
    socket's *family*, *kind* and *proto* (asked once per batch: they are properties
    that make enums, as costly as the accept)."""
    fd, address = listening._accept()  # type: ignore[attr-defined]
    return _c_socket(family, kind, proto, fd), address


try:
    import _socket

    _c_socket: Any = _socket.socket
except ImportError:  # pragma: no cover - every CPython we support has it
    _c_socket = None
#: How a :class:`Listener` accepts: the fast way where the private names exist.
accept_connection: Callable[[socket.socket, int, int, int], Any] = (
    _accept_c_level
    if _c_socket is not None and hasattr(socket.socket, "_accept")
    else _accept_public
)


def chosen(loop: asyncio.AbstractEventLoop, wanted: bool | None, *, tls: bool = False) -> bool:
    """Whether a TCP server on *loop* uses this module: *wanted* (the server's
    ``fast_transport``) or, when None, the environment (``RELAYS_FAST_TRANSPORT=0``
    turns it off); only on a loop that :func:`watches_sockets`, and for a *tls* server
    only where :func:`start_tls_takes_ours` (see the module's docstring)."""
    if wanted is None:
        wanted = os.environ.get(SWITCH, "1").strip() not in ("0", "false", "no", "off")
    if not wanted or (tls and not start_tls_takes_ours(loop)):
        return False
    return watches_sockets(loop)


def watches_sockets(loop: asyncio.AbstractEventLoop) -> bool:
    """Whether *loop* calls us back when a socket is readable (``add_reader``), asked
    by trying it on a socket pair: asyncio's selector loops and uvloop do, the proactor
    loop raises :class:`NotImplementedError`. Asked once per server start."""
    probe, other = socket.socketpair()
    with probe, other:
        try:
            loop.add_reader(probe.fileno(), _nothing)
        except NotImplementedError:
            return False
        loop.remove_reader(probe.fileno())
    return True


def _nothing() -> None:
    """The callback of :func:`watches_sockets`' probe (never called)."""


def start_tls_takes_ours(loop: asyncio.AbstractEventLoop) -> bool:
    """Whether *loop*'s ``start_tls`` wraps a :class:`SocketTransport`: asyncio's own
    loops (:class:`asyncio.BaseEventLoop`) wrap any transport that says it may;
    others (uvloop) only their own, and get the socket handed over instead
    (:meth:`SocketTransport.hand_over_tls`)."""
    return isinstance(loop, asyncio.BaseEventLoop)


def _kind_of(listening: socket.socket) -> tuple[int, int, int]:
    """The family, type and protocol of *listening*'s connections, as plain ints: asked
    once per listening socket, since ``family`` and ``type`` are properties that build
    an enum on every read (two of them per accept batch, that is per connection when
    connections come one at a time: about 7% of a ``Connection: close`` request)."""
    return int(listening.family), int(listening.type), listening.proto


# -- the transport ----------------------------------------------------------------------

#: A ``sockname`` not known yet.
UNKNOWN: Any = object()
_DEFAULT_HIGH_WATER = 64 * 1024
_READ_SIZE = 256 * 1024  # per read for protocols that are not buffered


class SocketTransport(asyncio.Transport):
    """One connected, non-blocking stream socket (see the module's docstring)."""

    _start_tls_compatible = True  # loop.start_tls() may wrap it (a private name it reads)

    # Rarely changed state starts as class defaults: a connection's set-up writes less.
    _buffer: bytearray | None = None  # what the kernel has not taken yet
    _reader = False  # registered with the selector for reading
    _paused = False  # pause_reading() in force
    _eof_seen = False  # the peer sent EOF: nothing more to read
    _eof_queued = False  # write_eof(): shut down writing once the buffer is out
    _lost = False  # connection_lost is scheduled, due or done
    # Inside a step of ours that calls the protocol (see _lose): a close inside it makes
    # connection_lost due at the step's end, with _lost_error, rather than a loop turn later.
    _stepping = False
    _lost_due = False
    _held: bytes | None = None  # written in this step, sent at its end (see write)
    _lost_error: BaseException | None = None
    _protocol_paused = False  # pause_writing() was called
    _flushed: list[asyncio.Future[None]] | None = None
    _sockname: Any = UNKNOWN
    _handed_out = False  # get_extra_info("socket") was asked (see _DONTWAIT)
    _high_water = _DEFAULT_HIGH_WATER
    _low_water = _DEFAULT_HIGH_WATER // 4

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        sock: Any,
        protocol: asyncio.BaseProtocol,
        peername: Any,
        sockname: Any = UNKNOWN,
        *,
        eager: bool = False,
    ) -> None:
        # No super().__init__(): it only makes the dictionary asyncio's get_extra_info
        # reads, which ours replaces (a call and a dictionary per connection).
        if sockname is not UNKNOWN:
            self._sockname = sockname
        self._loop = loop
        self._sock = sock
        if sock.gettimeout():
            # A socket with a timeout (socket.setdefaulttimeout() makes every new socket
            # so) waits for readiness before each call, MSG_DONTWAIT or not.
            sock.setblocking(False)
        self._fd: int = sock.fileno()
        self._peername = peername
        self._closing = False
        self.set_protocol(protocol)
        self._stepping = True
        try:
            protocol.connection_made(self)
        finally:
            self._stepping = False
            if self._held is not None or self._lost_due:
                self._end_step()
        if self._closing or self._paused:
            return
        if eager:
            # The peer has spoken already (deferred accept): read now, and register
            # only if the connection is still open and wants more. A read answered
            # and closed has its connection_lost called before this returns.
            self._read_ready()
            if self._closing or self._paused or self._eof_seen:
                return
        self._reader = True
        loop.add_reader(self._fd, self._read_ready)

    def __repr__(self) -> str:
        state = "closing" if self._closing else "open"
        size = len(self._buffer) if self._buffer else 0
        return f"<{type(self).__name__} fd={self._fd} {state} buffered={size}>"

    # -- the protocol ---------------------------------------------------------------

    def set_protocol(self, protocol: asyncio.BaseProtocol) -> None:
        self._protocol = protocol
        buffered = isinstance(protocol, asyncio.BufferedProtocol)
        self._buffered = buffered
        if buffered:
            self._get_buffer = protocol.get_buffer  # type: ignore[attr-defined]
            self._buffer_updated = protocol.buffer_updated  # type: ignore[attr-defined]
        else:
            self._data_received = protocol.data_received  # type: ignore[attr-defined]

    def get_protocol(self) -> asyncio.BaseProtocol:
        return self._protocol

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        if name == "peername":
            return self._peername
        if name == "sockname":
            if self._sockname is UNKNOWN:
                try:
                    self._sockname = self._sock.getsockname()
                except OSError:  # closed (see _call_connection_lost)
                    return default
            return self._sockname
        if name == "socket":
            if self._held is not None:  # whoever takes it may write past us
                self._send_held()
            if not self._handed_out:
                # Whoever asks may wait on it or send past us (sendfile): it must not
                # block, as the listener did not make it so (see _DONTWAIT).
                self._handed_out = True
                with contextlib.suppress(OSError):  # closed already
                    self._sock.setblocking(False)
            return _guarded(self._sock)
        return default

    # -- reading --------------------------------------------------------------------

    def is_reading(self) -> bool:
        return not (self._paused or self._closing)

    def pause_reading(self) -> None:
        if self._closing or self._paused:
            return
        self._paused = True
        self._stop_reading()

    def resume_reading(self) -> None:
        if self._closing or not self._paused:
            return
        self._paused = False
        if not self._eof_seen and not self._reader:
            self._reader = True
            self._loop.add_reader(self._fd, self._read_ready)

    def _stop_reading(self) -> None:
        if self._reader:
            self._reader = False
            self._loop.remove_reader(self._fd)

    def _read_ready(self) -> None:
        # One path for buffered and plain protocols; *step* names what failed.
        if self._lost:
            return
        buffered = self._buffered
        step = "protocol.get_buffer()"
        self._stepping = True
        try:
            if buffered:
                buffer = self._get_buffer(-1)
                if not len(buffer):
                    raise RuntimeError("get_buffer() returned an empty buffer")
            step = "read on socket transport"
            sock = self._sock
            try:
                if buffered:
                    received = sock.recv_into(buffer, 0, _DONTWAIT)
                else:
                    received = sock.recv(_READ_SIZE, _DONTWAIT)
            except (BlockingIOError, InterruptedError):
                return
            if not received:
                self._read_eof()
                return
            if buffered:
                step = "protocol.buffer_updated()"
                self._buffer_updated(received)
            else:
                step = "protocol.data_received()"
                self._data_received(received)
        except (SystemExit, KeyboardInterrupt):
            raise
        except BaseException as error:
            self._fatal_error(error, f"Fatal error: {step} failed")
        finally:
            self._stepping = False
            if self._held is not None or self._lost_due:
                self._end_step()

    def _read_eof(self) -> None:
        self._eof_seen = True
        self._stop_reading()
        try:
            keep_open = self._protocol.eof_received()  # type: ignore[attr-defined]
        except (SystemExit, KeyboardInterrupt):
            raise
        except BaseException as error:
            self._fatal_error(error, "Fatal error: protocol.eof_received() call failed.")
            return
        if not keep_open:
            self.close()

    # -- writing --------------------------------------------------------------------

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if type(data) is not bytes:
            if not isinstance(data, bytearray | memoryview):
                raise TypeError(f"data must be bytes-like, not {type(data).__name__}")
            data = memoryview(data).cast("B")  # len() in bytes, whatever the format
        if self._eof_queued:
            raise RuntimeError("cannot write() after write_eof()")
        if not data or self._lost:
            return
        buffer = self._buffer
        if not buffer:
            if self._stepping:
                # Inside a step of ours (the set-up, a read): hold the bytes and send
                # them when the protocol's callback returns (_send_held), together with
                # any written after them in the same step, and with the FIN when the
                # step also closed (_LAST_SEND). Nothing waits longer than the callback.
                held = self._held
                if held is None:
                    if len(data) <= _HOLD_LIMIT:
                        self._held = data if type(data) is bytes else bytes(data)
                        return
                else:
                    self._held = None
                    data = held + data
                    if len(data) <= _HOLD_LIMIT:
                        self._held = data
                        return
            try:
                sent = self._sock.send(data, _DONTWAIT)
            except (BlockingIOError, InterruptedError):
                sent = 0
            except (SystemExit, KeyboardInterrupt):
                raise
            except BaseException as error:
                self._fatal_error(error, "Fatal write error on socket transport")
                return
            if sent == len(data):
                return
            data = memoryview(data)[sent:]
            if buffer is None:
                buffer = self._buffer = bytearray()
            self._loop.add_writer(self._fd, self._write_ready)
        buffer.extend(data)
        if len(buffer) > self._high_water and not self._protocol_paused:
            self._pause_protocol()

    def _pause_protocol(self) -> None:
        """The buffer went over the high-water mark: ask the protocol to stop writing."""
        self._protocol_paused = True
        try:
            self._protocol.pause_writing()
        except (SystemExit, KeyboardInterrupt):
            raise
        except BaseException as error:
            self._report(error, "protocol.pause_writing() failed")

    def _send_held(self) -> None:
        """Send what this step held back (see write): at the step's end, or before
        anything that must see it gone (write_eof, the socket handed out, TLS)."""
        held = self._held
        assert held is not None
        self._held = None
        closing = self._lost_due  # closed in this step, nothing else buffered
        try:
            sent = self._sock.send(held, _LAST_SEND if closing else _DONTWAIT)
        except (BlockingIOError, InterruptedError):
            sent = 0
        except (SystemExit, KeyboardInterrupt):
            raise
        except BaseException as error:
            if not closing:
                self._fatal_error(error, "Fatal write error on socket transport")
                return
            if not isinstance(error, OSError):
                self._report(error, "Fatal write error on socket transport")
            self._lost_error = error  # connection_lost comes at the step's end
            return
        if sent == len(held):
            return
        if closing:  # close once the rest is out, as close() does with a buffer
            self._lost = self._lost_due = False
        buffer = self._buffer = bytearray(memoryview(held)[sent:])
        self._loop.add_writer(self._fd, self._write_ready)
        if len(buffer) > self._high_water and not self._protocol_paused:
            self._pause_protocol()

    def writelines(self, list_of_data: Any) -> None:
        self.write(b"".join(list_of_data))

    def _write_ready(self) -> None:
        buffer = self._buffer
        if self._lost or not buffer:
            return
        try:
            sent = self._sock.send(buffer, _DONTWAIT)
        except (BlockingIOError, InterruptedError):
            return
        except (SystemExit, KeyboardInterrupt):
            raise
        except BaseException as error:
            self._loop.remove_writer(self._fd)
            buffer.clear()
            self._fatal_error(error, "Fatal write error on socket transport")
            return
        del buffer[:sent]
        if self._protocol_paused and len(buffer) <= self._low_water:
            self._protocol_paused = False
            try:
                self._protocol.resume_writing()
            except (SystemExit, KeyboardInterrupt):
                raise
            except BaseException as error:
                self._report(error, "protocol.resume_writing() failed")
        if buffer:
            return
        self._loop.remove_writer(self._fd)
        self._wake_flushed(None)
        if self._closing:
            self._lost = True
            self._call_connection_lost(None)
        elif self._eof_queued:
            self._shutdown_writing()

    def can_write_eof(self) -> bool:
        return True

    def write_eof(self) -> None:
        if self._closing or self._eof_queued:
            return
        self._eof_queued = True
        if self._held is not None:
            self._send_held()
        if not self._buffer:
            self._shutdown_writing()

    def _shutdown_writing(self) -> None:
        try:
            self._sock.shutdown(socket.SHUT_WR)
        except OSError as error:
            self._fatal_error(error, "Fatal error shutting down the socket for writing")
            return

    def get_write_buffer_size(self) -> int:
        held = len(self._held) if self._held is not None else 0
        return held + (len(self._buffer) if self._buffer else 0)

    def get_write_buffer_limits(self) -> tuple[int, int]:
        return (self._low_water, self._high_water)

    def set_write_buffer_limits(self, high: int | None = None, low: int | None = None) -> None:
        if high is None:
            high = _DEFAULT_HIGH_WATER if low is None else 4 * low
        if low is None:
            low = high // 4
        if not high >= low >= 0:
            raise ValueError(f"high ({high!r}) must be >= low ({low!r}) must be >= 0")
        self._high_water = high
        self._low_water = low
        if self._buffer and len(self._buffer) > high and not self._protocol_paused:
            self._protocol_paused = True
            self._protocol.pause_writing()

    async def hand_over_tls(
        self, protocol: asyncio.BaseProtocol, context: Any, timeout: float
    ) -> asyncio.Transport:
        """Take the server side of a TLS handshake on this connection through the loop's
        own TLS transport, for loops whose ``start_tls`` does not wrap ours (see the
        module's docstring): once what is buffered is out, stop watching the socket and
        give it to ``loop.connect_accepted_socket``, which returns the TLS transport
        carrying *protocol* once the handshake is done.

        This transport is finished then, without a ``connection_lost``: the connection
        goes on in the new transport, or, when the handshake fails, ends with it (the
        socket closed, the error raised), as when the loop's ``start_tls`` fails.
        """
        if self._closing:
            raise ConnectionError(f"{self!r} is closing")
        self.pause_reading()
        if self._held is not None:
            self._send_held()
        if self._buffer:
            waiter = self._loop.create_future()
            if self._flushed is None:
                self._flushed = []
            self._flushed.append(waiter)
            await waiter
        self._stop_reading()
        self._closing = self._lost = True
        self._forget_protocol()
        sock = self._sock
        if not isinstance(sock, socket.socket):  # the C-level socket: wrap it for the loop
            sock = socket.socket(fileno=sock.detach())
        sock.setblocking(False)  # the loop's transport expects it (see _DONTWAIT)
        try:
            transport, _ = await self._loop.connect_accepted_socket(
                lambda: protocol, sock, ssl=context, ssl_handshake_timeout=timeout
            )
        except BaseException:
            sock.close()  # the loop has closed it already, or never took it
            raise
        return transport

    def _wake_flushed(self, error: BaseException | None) -> None:
        waiters, self._flushed = self._flushed, None
        for waiter in waiters or ():
            if not waiter.done():
                if error is None:
                    waiter.set_result(None)
                else:
                    waiter.set_exception(ConnectionError(f"{self!r} closed: {error}"))

    # -- closing --------------------------------------------------------------------

    def is_closing(self) -> bool:
        return self._closing

    def close(self) -> None:
        if self._closing:
            return
        self._closing = True
        if self._reader:  # not when the first read answered and closed (eager)
            self._stop_reading()
        if not self._buffer and not self._lost:
            self._lost = True
            if self._stepping:  # (_lose, inlined: the usual close of a short connection)
                self._lost_due = True
            else:
                self._loop.call_soon(self._call_connection_lost, None)

    def abort(self) -> None:
        self._force_close(None)

    def _force_close(self, error: BaseException | None) -> None:
        if self._lost:
            return
        self._lost = True
        self._held = None
        if self._buffer:
            self._buffer.clear()
            self._loop.remove_writer(self._fd)
        self._closing = True
        self._stop_reading()
        self._lose(error)

    def _lose(self, error: BaseException | None) -> None:
        """Have ``connection_lost(error)`` called, never inside the call that closed: at
        the end of the step of ours that is calling the protocol (``_stepping``: the
        set-up, a read; see _end_step), else on a later loop turn. A short connection,
        read, answered and closed in the step that accepts it, so ends in that step rather
        than paying a ``call_soon`` and one more loop turn (on asyncio's loop one more
        poll) for it: that was 9% of a ``Connection: close`` request's instructions on
        asyncio's loop, 4% on uvloop (``benchmarks/seeds.py --close-instructions``)."""
        if self._stepping:
            self._lost_due = True
            self._lost_error = error
        else:
            self._loop.call_soon(self._call_connection_lost, error)

    def _end_step(self) -> None:
        """A step of ours has finished its protocol calls: send what it wrote (with the
        FIN's hint when it also closed), then call connection_lost if it closed (refused
        in connection_made, say, or a read answered and closed, or the peer ended)."""
        if self._held is not None:
            self._send_held()
        if self._lost_due:  # still due unless the kernel took only part (see _send_held)
            self._lost_due = False
            self._call_connection_lost(self._lost_error)

    def _fatal_error(self, error: BaseException, message: str) -> None:
        # A socket error (reset, broken pipe) is the peer's doing: not worth a report.
        if not isinstance(error, OSError):
            self._report(error, message)
        self._force_close(error)

    def _report(self, error: BaseException, message: str) -> None:
        self._loop.call_exception_handler(
            {"message": message, "exception": error, "transport": self, "protocol": self._protocol}
        )

    def _call_connection_lost(self, error: BaseException | None) -> None:
        if self._flushed:  # someone waits for the buffer to go out (hand_over_tls)
            self._wake_flushed(error or ConnectionError("closed"))
        try:
            self._protocol.connection_lost(error)  # type: ignore[arg-type]
        finally:
            # Our address stays readable after the close, as asyncio's transports keep
            # it; when the listener could not tell it (a wildcard bind), ask now.
            if self._sockname is UNKNOWN:
                self.get_extra_info("sockname")
            self._sock.close()
            self._forget_protocol()

    def _forget_protocol(self) -> None:
        """Drop the protocol and its bound methods once the connection is over, as
        asyncio's transports do (``get_protocol()`` is None then). The protocol keeps us
        (for our details), so keeping it would make a cycle of every closed connection:
        garbage for the cycle collector, whose passes over thousands of them (short
        connections come by the thousand per second) were the tail of the
        ``Connection: close`` latency, where reference counting frees them at once."""
        self._protocol = None  # type: ignore[assignment]
        if self._buffered:
            self._get_buffer = self._buffer_updated = None
        else:
            self._data_received = None


# -- the listener -----------------------------------------------------------------------


class Listener(asyncio.AbstractServer):
    """Listening sockets whose connections we accept ourselves (see the module's docstring).

    It stands where the :class:`asyncio.Server` it takes over would, serving from the
    start: ``sockets``, ``close()``, ``wait_closed()``.
    """

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        server: asyncio.AbstractServer,
        factory: Callable[[], asyncio.BaseProtocol],
        backlog: int,
        *,
        eager: bool = False,
    ) -> None:
        self._loop = loop
        # The system accepts only once the peer has sent something (deferred accept):
        # each new connection reads at once (see SocketTransport).
        self._eager = eager
        self._factory = factory
        self._backlog = backlog
        # Duplicates: closing asyncio's (never started) server then closes its own.
        self._sockets = [listening.dup() for listening in getattr(server, "sockets", ())]
        server.close()
        self._make_transport = SocketTransport
        # A connection's own address is its listener's unless that is a wildcard.
        self._locals = {
            listening: name
            for listening in self._sockets
            if (name := listening.getsockname())[0] not in _WILDCARDS
        }
        # TCP_NODELAY is set on the listening sockets: Linux hands it down to every
        # connection they accept, saving a system call each. Whether the system did
        # is checked on the first connection; if not, each gets it set.
        self._nodelay_inherited: bool | None = None
        # What each listening socket's connections are made as (see _kind_of).
        self._kinds: dict[socket.socket, tuple[int, int, int]] = {}
        # Eager only: whether the last look found connections queued (then each
        # readiness takes a batch), and readinesses since the last look (see
        # LOOK_AGAIN_EVERY). Shared by the listening sockets: it is a guess at the load.
        self._queued = True
        self._unlooked = 0
        self._closed = False
        for listening in self._sockets:
            listening.setblocking(False)
            listening.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            listening.listen(backlog)  # asyncio listens when it starts serving: never here
            loop.add_reader(listening.fileno(), self._ready, listening)

    @property
    def sockets(self) -> tuple[socket.socket, ...]:
        return tuple(self._sockets)

    def close(self) -> None:
        """Stop accepting and close the listening sockets (connections stay open)."""
        if self._closed:
            return
        self._closed = True
        for listening in self._sockets:
            self._loop.remove_reader(listening.fileno())
            listening.close()

    async def wait_closed(self) -> None:
        """Nothing to wait for: closing is immediate (the server tracks connections)."""

    def get_loop(self) -> asyncio.AbstractEventLoop:
        return self._loop

    def is_serving(self) -> bool:
        return not self._closed

    async def start_serving(self) -> None:
        """Serving starts when the listener is made."""

    async def serve_forever(self) -> None:
        raise NotImplementedError("a Listener is served by its component, not awaited")

    def _ready(self, listening: socket.socket) -> None:
        make_transport = self._make_transport
        loop = self._loop
        factory = self._factory
        accept = accept_connection
        kinds = self._kinds.get(listening)
        if kinds is None:
            kinds = self._kinds[listening] = _kind_of(listening)
        family, kind, proto = kinds
        local = self._locals.get(listening, UNKNOWN)
        eager = self._eager
        if not eager:
            limit = self._backlog
        elif self._queued:
            # An eager connection is read before the next is taken, and when answered
            # at once closed too; one answered by a task (or a slower handler) finishes
            # on later loop turns: a short batch lets those turns come, rather than
            # holding a backlog's worth of answered connections open (and counted).
            limit = EAGER_BATCH
        else:
            # Connections come one at a time: take this one, and look for another only
            # now and then (see LOOK_AGAIN_EVERY).
            self._unlooked += 1
            if self._unlooked < LOOK_AGAIN_EVERY:
                limit = 1
            else:
                self._unlooked = 0
                limit = EAGER_BATCH
        taken = 0
        for _ in range(limit):
            try:
                connection, address = accept(listening, family, kind, proto)
            except (BlockingIOError, InterruptedError):
                if eager:  # nothing more waits: were there several?
                    self._queued = taken > 1
                return
            except ConnectionAbortedError:
                continue  # the peer gave up while queued: take the next one
            except OSError as error:
                if error.errno not in _OUT_OF_RESOURCES:
                    raise  # the loop logs it; the reader stays
                self._rest(listening, error)
                return
            taken += 1
            if not _DONTWAIT:
                connection.setblocking(False)
            if not self._nodelay_inherited:
                self._set_nodelay(connection)
            try:
                make_transport(loop, connection, factory(), address, local, eager=eager)
            except Exception:
                logger.exception("could not set up the connection from %r", address)
                connection.close()
        if eager and limit > 1:
            self._queued = True  # a whole batch, and maybe more behind it

    def _set_nodelay(self, connection: Any) -> None:
        """Set ``TCP_NODELAY`` unless the listening socket handed it down (checked once)."""
        if self._nodelay_inherited is None:
            option = connection.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
            self._nodelay_inherited = bool(option)
            if option:
                return
        connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def _rest(self, listening: socket.socket, error: OSError) -> None:
        logger.error("accepting on %r paused for %s s: %s", listening, ACCEPT_RETRY_DELAY, error)
        self._loop.remove_reader(listening.fileno())
        self._loop.call_later(ACCEPT_RETRY_DELAY, self._resume, listening)

    def _resume(self, listening: socket.socket) -> None:
        if not self._closed:
            self._loop.add_reader(listening.fileno(), self._ready, listening)
