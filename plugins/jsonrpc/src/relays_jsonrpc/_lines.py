"""JSON-RPC 2.0 over any stream transport: one JSON document per line.

Theory of operation
-------------------
The component listens to a transport's ``connect``, ``read`` and ``disconnect``
on the transport's channel (see :mod:`relays.transports`), so it works over
TCP, TLS, UNIX sockets or the in-memory transport of tests alike.

Framing. Each connection has a buffer. Bytes are added to it and every complete
line (ending in ``\\n``; a ``\\r`` before it and blank lines are ignored) is one
document. A line longer than ``max_request_size`` (or a buffer that grows past
it without a newline) is answered with a ``-32600`` error and the connection
closed: the stream cannot be trusted to resynchronise.

Calling. Each line is answered by a handler task of its own (an internal event
fired at this component), so a slow call does not hold up the next; answers are
written as they are ready, one line each, and matched to requests by ``id``, as
the specification allows. A connection with ``max_pending_per_connection``
lines running stops being read until one finishes: a client cannot queue
unbounded work.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from relays import BaseComponent, Event, handler
from relays.transports import Connection
from relays_http.rpc import RPCMethods

from ._core import JSONRPCLimits, Processor, _encode, _error
from ._errors import INVALID_REQUEST

__all__ = ["JSONRPCLines"]

F = TypeVar("F", bound=Callable[..., Any])


class _Line(Event):
    """Internal: answer one line of one connection (fired at the protocol itself)."""

    name = "jsonrpc_line"


class _State:
    __slots__ = ("buffer", "paused", "pending")

    def __init__(self) -> None:
        self.buffer = bytearray()
        self.pending = 0
        self.paused = False


class JSONRPCLines(BaseComponent):
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
        super().__init__(channel=channel)
        self.rpc_channel = rpc_channel
        self.limits = limits or JSONRPCLimits()
        self.methods = RPCMethods(self, rpc_channel)
        self.processor = Processor(self.methods, limits=self.limits, debug=debug)
        self._states: dict[Connection, _State] = {}

    def register_function(self, function: F | None = None, *, name: str | None = None) -> Any:
        """Serve *function* as method *name*; a decorator too (see ``JSONRPC``)."""
        if function is None:
            return lambda f: self.register_function(f, name=name)
        self.methods.register(function, name)
        return function

    @handler("registered", "unregistered", channel="*")
    def _on_tree_changed(self, component: BaseComponent, parent: BaseComponent) -> None:
        self.methods.forget()

    @handler("connect")
    def _on_connect(self, sock: Connection, *address: Any) -> None:
        self._states[sock] = _State()

    @handler("disconnect")
    def _on_disconnect(self, sock: Connection) -> None:
        self._states.pop(sock, None)

    @handler("read")
    def _on_read(self, sock: Connection, data: bytes) -> None:
        state = self._states.get(sock)
        if state is None:  # a connection made before we were registered
            state = self._states[sock] = _State()
        buffer = state.buffer
        start = len(buffer)
        buffer += data
        limit = self.limits.max_request_size
        newline = buffer.find(b"\n", start)
        begin = 0
        while newline >= 0:
            line = bytes(buffer[begin:newline]).strip()
            if len(line) > limit:
                self._too_long(sock)
                return
            if line:
                state.pending += 1
                self.fire(_Line(sock, line), self)
            begin = newline + 1
            newline = buffer.find(b"\n", begin)
        del buffer[:begin]
        if len(buffer) > limit:
            self._too_long(sock)
            return
        if state.pending >= self.limits.max_pending_per_connection and not state.paused:
            state.paused = True
            sock.pause_reading()

    def _too_long(self, sock: Connection) -> None:
        self._states.pop(sock, None)
        detail = f"a line is at most {self.limits.max_request_size} bytes"
        sock.write(_encode(_error(INVALID_REQUEST, "Invalid Request", None, detail)) + b"\n")
        sock.close()

    @handler("jsonrpc_line")
    async def _on_line(self, sock: Connection, line: bytes) -> None:
        try:
            reply = await self.processor.handle(line, sock)
        finally:
            state = self._states.get(sock)
            if state is not None:
                state.pending -= 1
                if state.paused and state.pending < self.limits.max_pending_per_connection:
                    state.paused = False
                    sock.resume_reading()
        if reply is not None and not sock.closing:
            sock.write(reply + b"\n")
