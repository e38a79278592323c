"""JSON-RPC 2.0 over any stream transport: one JSON document per line.

Theory of operation
-------------------
The component listens to a transport's ``connect``, ``read``, ``eof`` and
``disconnect`` on the transport's channel (see :mod:`relays.transports`), so it
works over TCP, TLS, UNIX sockets or the in-memory transport of tests alike.

Framing. Each connection has a :class:`_Lines` buffer that owns its bytes: data
is added to it, and complete lines (ending in ``\\n``; a ``\\r`` before it and
blank lines are ignored) are taken from it one at a time. A line longer than
``max_request_size`` (or unfinished data that grows past it) is answered with a
``-32600`` error and the connection closed: the stream cannot be trusted to
resynchronise.

Calling. Each line is answered by a handler task of its own (an internal event
fired at this component), so a slow call does not hold up the next; answers are
written as they are ready, one line each, and matched to requests by ``id``, as
the specification allows. At most ``max_pending_per_connection`` lines of one
connection run at once: the next lines stay in the buffer, and the connection is
not read while any complete line waits there, so a client that sends faster than
its calls finish is slowed down by TCP instead of queueing unbounded work. Each
finished call takes the next waiting line, and reading resumes once every
waiting line has started.

Endings. A client that half-closes (``nc -N``, ``shutdown(SHUT_WR)``) still gets
every answer: its last line counts even without a newline, and the connection is
closed once the last call has answered. A client that is gone (``disconnect``)
gets nothing more: its running calls are cancelled. (Cancelling reaches what the
call's task awaits, a registered function included; a handler-served method's own
task, run by the kernel, finishes on its own.)
"""

from __future__ import annotations

import asyncio
from typing import Any

from relays import Event, handler
from relays.transports import Connection
from relays_http.rpc import RPCComponent

from ._core import JSONRPCLimits, Processor, _encode, _error
from ._errors import INVALID_REQUEST

__all__ = ["JSONRPCLines"]


class _Line(Event):
    """Internal: answer one line of one connection (fired at the protocol itself)."""

    name = "jsonrpc_line"


class LineTooLong(ValueError):
    """A line (or unfinished data) of a connection is over ``max_request_size``."""


class _Lines:
    """The unread bytes of one connection, handed out a line at a time.

    Lines are taken from an offset (``_start``) and the consumed bytes dropped only
    once every complete line is out, so taking N lines from one large read copies
    the buffer once, not N times.
    """

    __slots__ = ("_buffer", "_limit", "_scan", "_start")

    def __init__(self, limit: int) -> None:
        self._buffer = bytearray()
        self._limit = limit
        self._start = 0  # where the next line begins
        self._scan = 0  # no newline before here (from _start on)

    def add(self, data: bytes) -> None:
        self._buffer += data

    def finish(self) -> None:
        """The peer sends no more: what is left is a last line, newline or not."""
        if len(self._buffer) > self._start:
            self._buffer += b"\n"

    def next_line(self) -> bytes | None:
        """The next complete line, stripped (``b""`` for a blank one), or None.

        Raises :class:`LineTooLong` for a line over the limit, or unfinished data
        that already is.
        """
        buffer = self._buffer
        newline = buffer.find(b"\n", max(self._start, self._scan))
        if newline < 0:
            self._scan = len(buffer)
            del buffer[: self._start]
            self._scan -= self._start
            self._start = 0
            if len(buffer) > self._limit:
                raise LineTooLong
            return None
        line = bytes(buffer[self._start : newline]).strip()
        if len(line) > self._limit:
            raise LineTooLong
        self._start = self._scan = newline + 1
        return line

    def has_line(self) -> bool:
        """Whether a complete line is waiting."""
        return self._buffer.find(b"\n", max(self._start, self._scan)) >= 0


class _Connection:
    """What one connection owes: its waiting lines, its running calls, its ending."""

    __slots__ = ("ended", "lines", "paused", "running", "tasks")

    def __init__(self, limit: int) -> None:
        self.lines = _Lines(limit)
        self.running = 0  # lines started and not answered yet (counted from the fire)
        self.tasks: set[asyncio.Task[Any]] = set()  # their tasks, once they run
        self.paused = False
        self.ended = False  # the peer half-closed


class JSONRPCLines(RPCComponent):
    """The ``jsonrpc`` protocol: JSON-RPC 2.0, one document per line, on *channel*.

    Register it with a server transport on the same channel:
    ``TCPServer(("127.0.0.1", 4000), channel="rpc-tcp") + JSONRPCLines(channel="rpc-tcp")``,
    or ask the plugins for it: ``relays.find_protocol("jsonrpc")(channel=...)``.
    Methods are found as by :class:`~relays_jsonrpc.JSONRPC`: events on
    *rpc_channel*, or functions given to :meth:`register_function`.
    """

    def __init__(
        self,
        *,
        channel: Any,
        rpc_channel: Any = "rpc",
        limits: JSONRPCLimits | None = None,
        debug: bool = False,
    ) -> None:
        super().__init__(channel=channel, rpc_channel=rpc_channel)
        self.limits = limits or JSONRPCLimits()
        self.processor = Processor(self.methods, limits=self.limits, debug=debug)
        self._connections: dict[Connection, _Connection] = {}

    @handler("connect")
    def _on_connect(self, sock: Connection, *address: Any) -> None:
        self._connections[sock] = _Connection(self.limits.max_request_size)

    @handler("disconnect")
    def _on_disconnect(self, sock: Connection) -> None:
        connection = self._connections.pop(sock, None)
        if connection is not None:
            for task in connection.tasks:  # nobody is left to answer
                task.cancel()

    @handler("read")
    def _on_read(self, sock: Connection, data: bytes) -> None:
        connection = self._connection(sock)
        connection.lines.add(data)
        self._start_calls(sock, connection)

    @handler("eof")
    def _on_eof(self, sock: Connection) -> None:
        connection = self._connection(sock)
        connection.ended = True
        connection.lines.finish()
        self._start_calls(sock, connection)

    def _connection(self, sock: Connection) -> _Connection:
        connection = self._connections.get(sock)
        if connection is None:  # a connection made before we were registered
            connection = _Connection(self.limits.max_request_size)
            self._connections[sock] = connection
        return connection

    def _start_calls(self, sock: Connection, connection: _Connection) -> None:
        """Start waiting lines up to the limit; pause, resume or close as that leaves us."""
        limit = self.limits.max_pending_per_connection
        try:
            while connection.running < limit:
                line = connection.lines.next_line()
                if line is None:
                    break
                if line:
                    connection.running += 1
                    self.fire(_Line(sock, connection, line), self)
        except LineTooLong:
            self._too_long(sock)
            return
        waiting = connection.running >= limit and connection.lines.has_line()
        if waiting and not connection.paused:
            connection.paused = True
            sock.pause_reading()
        elif not waiting and connection.paused:
            connection.paused = False
            sock.resume_reading()
        if connection.ended and not connection.running and not sock.closing:
            self._connections.pop(sock, None)
            sock.close()  # every answer is written: the client half-closed, we finish

    def _too_long(self, sock: Connection) -> None:
        self._on_disconnect(sock)
        detail = f"a line is at most {self.limits.max_request_size} bytes"
        sock.write(_encode(_error(INVALID_REQUEST, "Invalid Request", None, detail)) + b"\n")
        sock.close()

    @handler("jsonrpc_line")
    async def _on_line(self, sock: Connection, connection: _Connection, line: bytes) -> None:
        if self._connections.get(sock) is not connection:
            return  # the client went before the call started
        task = asyncio.current_task()
        if task is not None:
            connection.tasks.add(task)
        try:
            reply = await self.processor.handle(line, sock)
        finally:
            connection.running -= 1
            connection.tasks.discard(task)
        if reply is not None and not sock.closing:
            sock.write(reply + b"\n")
        if self._connections.get(sock) is connection:
            self._start_calls(sock, connection)
