"""A lean asyncio transport for the plain stream sockets a :class:`Listener` accepts.

Why
---
asyncio's selector transport is general: at set-up it asks the kernel for the local
address, registers itself in the loop's table of transports, and schedules three
callbacks (``connection_made``, starting to read, its waiter) for the next loop turn.
A short connection (one HTTP request with ``Connection: close``) pays all of that,
then a second turn before the first read. Measured on a bare asyncio protocol, that
machinery was about a third of the server's CPU per such request.

This transport does the same job with less: ``connection_made`` is called at once,
the reader is registered in the same step, the local address is the listener's when
that is a single address (else asked of the socket when wanted, or at the close), and
with *eager* (the listener defers accepting until the peer has sent something) the
first read happens before registering anything at all, so an answered-and-closed
connection never touches the selector.

Contract
--------
It is an :class:`asyncio.Transport` with asyncio's behaviour where a protocol can see
it: ``write`` sends at once and buffers only what the kernel did not take, with
``pause_writing``/``resume_writing`` at the water marks; ``close`` waits for the
buffer; ``connection_lost`` comes on a later loop turn, never inside the call that
closed; ``eof_received`` returning true keeps a half-closed connection open for
writing; buffered and plain protocols both work, and ``loop.start_tls`` accepts it
(it upgrades relays' STARTTLS). ``loop.sendfile`` does not: use :meth:`sendfile`.
It only uses the loop's public ``add_reader``/``add_writer`` family.
"""

from __future__ import annotations

import asyncio
import socket
from asyncio.trsock import TransportSocket
from typing import IO, Any

__all__ = ["UNKNOWN", "SocketTransport"]

#: A ``sockname`` not known yet.
UNKNOWN: Any = object()
_DEFAULT_HIGH_WATER = 64 * 1024
_READ_SIZE = 256 * 1024  # per read for protocols that are not buffered


class SocketTransport(asyncio.Transport):
    """One connected, non-blocking stream socket (see the module's docstring)."""

    _start_tls_compatible = True  # loop.start_tls() may wrap it

    # Rarely changed state starts as class defaults: a connection's set-up writes less.
    _buffer: bytearray | None = None  # what the kernel has not taken yet
    _reader = False  # registered with the selector for reading
    _paused = False  # pause_reading() in force
    _eof_seen = False  # the peer sent EOF: nothing more to read
    _eof_queued = False  # write_eof(): shut down writing once the buffer is out
    _lost = False  # connection_lost is scheduled or done
    _protocol_paused = False  # pause_writing() was called
    _sending_file = False
    _lingering: asyncio.TimerHandle | None = None  # see linger()
    _flushed: list[asyncio.Future[None]] | None = None
    _sockname: Any = UNKNOWN
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
        super().__init__()
        if sockname is not UNKNOWN:
            self._sockname = sockname
        self._loop = loop
        self._sock = sock
        self._fd: int = sock.fileno()
        self._peername = peername
        self._closing = False
        self.set_protocol(protocol)
        protocol.connection_made(self)
        if self._closing or self._paused:
            return
        if eager:
            # The peer has spoken already (deferred accept): read now, and register
            # only if the connection is still open and wants more.
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
            return TransportSocket(self._sock)
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
        try:
            if buffered:
                buffer = self._get_buffer(-1)
                if not len(buffer):
                    raise RuntimeError("get_buffer() returned an empty buffer")
            step = "read on socket transport"
            sock = self._sock
            try:
                received = sock.recv_into(buffer) if buffered else sock.recv(_READ_SIZE)
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
        if self._sending_file:
            raise RuntimeError("unable to write; sendfile is in progress")
        if not data or self._lost:
            return
        buffer = self._buffer
        if not buffer:
            try:
                sent = self._sock.send(data)
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
            self._protocol_paused = True
            try:
                self._protocol.pause_writing()
            except (SystemExit, KeyboardInterrupt):
                raise
            except BaseException as error:
                self._report(error, "protocol.pause_writing() failed")

    def writelines(self, list_of_data: Any) -> None:
        self.write(b"".join(list_of_data))

    def _write_ready(self) -> None:
        buffer = self._buffer
        if self._lost or not buffer:
            return
        try:
            sent = self._sock.send(buffer)
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
        if self._lingering is not None:
            self._shutdown_writing()
        elif self._closing:
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
        if not self._buffer:
            self._shutdown_writing()

    def _shutdown_writing(self) -> None:
        try:
            self._sock.shutdown(socket.SHUT_WR)
        except OSError as error:
            self._fatal_error(error, "Fatal error shutting down the socket for writing")
            return
        if self._lingering is not None and not self._reader:
            self._force_close(None)  # lingering, and the peer has ended already

    def get_write_buffer_size(self) -> int:
        return len(self._buffer) if self._buffer else 0

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

    async def sendfile(self, file: IO[bytes], offset: int = 0, count: int | None = None) -> int:
        """Send part of *file* with the kernel's ``sendfile`` (or by reading, where the
        file cannot be sent that way), once what is buffered has gone out.

        Like asyncio's transports, it stops reading meanwhile and refuses writes.
        """
        if self._closing:
            raise RuntimeError("the transport is closing")
        if self._buffer:
            waiter = self._loop.create_future()
            if self._flushed is None:
                self._flushed = []
            self._flushed.append(waiter)
            await waiter
        was_reading = not self._paused
        self.pause_reading()
        self._sending_file = True
        try:
            return await self._loop.sock_sendfile(self._sock, file, offset, count)
        finally:
            self._sending_file = False
            if was_reading:
                self.resume_reading()

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
        self._stop_reading()
        if not self._buffer and not self._lost:
            self._lost = True
            self._loop.call_soon(self._call_connection_lost, None)

    def linger(self, timeout: float) -> None:
        """Close once the buffer is out, reading and discarding what the peer still
        sends until it ends or for *timeout* seconds: its unread bytes at the close
        would make the system reset the connection, and the reset can destroy our
        last reply before the peer reads it (see :meth:`relays.transports.Connection.linger`).
        """
        if self._closing:
            return
        if self._eof_seen:
            self.close()
            return
        self._closing = True
        self._lingering = self._loop.call_later(timeout, self._force_close, None)
        self._reader = True  # (again) and now into the bin
        self._loop.add_reader(self._fd, self._discard_ready)
        if not self._buffer:
            self._shutdown_writing()

    def _discard_ready(self) -> None:
        if self._lost:
            return
        try:
            if self._sock.recv(_READ_SIZE):
                return
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            pass  # reset: nothing left to protect
        self._stop_reading()
        if self._buffer:  # the peer is done but our reply is not out yet
            return
        self._force_close(None)

    def abort(self) -> None:
        self._force_close(None)

    def _force_close(self, error: BaseException | None) -> None:
        if self._lost:
            return
        self._lost = True
        if self._lingering is not None:
            self._lingering.cancel()
        if self._buffer:
            self._buffer.clear()
            self._loop.remove_writer(self._fd)
        self._closing = True
        self._stop_reading()
        self._loop.call_soon(self._call_connection_lost, error)

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
        self._wake_flushed(error or ConnectionError("closed"))
        try:
            self._protocol.connection_lost(error)  # type: ignore[arg-type]
        finally:
            # Our address stays readable after the close, as asyncio's transports keep
            # it; when the listener could not tell it (a wildcard bind), ask now.
            if self._sockname is UNKNOWN:
                self.get_extra_info("sockname")
            self._sock.close()
