"""An in-memory transport: the events of :mod:`relays.transports`, without sockets.

A test opens a :class:`MemoryClient` with :meth:`MemoryTransport.connect`, sends
bytes with :meth:`MemoryClient.send` (the server side sees ``read(sock, data)``) and
reads what the protocol wrote from :attr:`MemoryClient.received`. Writes happen
through the connection handle or ``write(sock, data)`` events, just as with sockets.
"""

from __future__ import annotations

import asyncio
from typing import Any

from .._components import BaseComponent
from .._handlers import handler
from .._values import Value
from ..transports import Connect, Connection, Disconnect, Error, Read, Ready

__all__ = ["MemoryClient", "MemoryConnection", "MemoryTransport"]


class MemoryConnection(Connection):
    """The server side of an in-memory connection."""

    def __init__(self, transport: MemoryTransport, peer: tuple[str, int]) -> None:
        self.transport = transport
        self.peer = peer
        self.local = transport.address
        self.buffer = bytearray()
        self.reading = True
        self._closing = False
        self._changed = asyncio.Event()

    def write(self, data: bytes) -> None:
        if self._closing:
            self.transport.fire(Error(self, ConnectionError("write on a closed connection")))
            return
        self.buffer += data
        self._changed.set()

    def close(self) -> None:
        if not self._closing:
            self._closing = True
            self._changed.set()
            self.transport.fire(Disconnect(self))

    @property
    def closing(self) -> bool:
        return self._closing

    def pause_reading(self) -> None:
        self.reading = False

    def resume_reading(self) -> None:
        self.reading = True


class MemoryClient:
    """The client end: send bytes in, read what the server wrote."""

    def __init__(self, transport: MemoryTransport, connection: MemoryConnection) -> None:
        self.transport = transport
        self.connection = connection

    def send(self, data: bytes) -> Value:
        """Deliver *data* to the server as one ``read`` event; returns its value."""
        return self.transport.fire(Read(self.connection, data))

    @property
    def received(self) -> bytes:
        """Everything the server has written so far."""
        return bytes(self.connection.buffer)

    def take(self) -> bytes:
        """What the server wrote since the last ``take``."""
        data = bytes(self.connection.buffer)
        self.connection.buffer.clear()
        return data

    @property
    def closed(self) -> bool:
        return self.connection.closing

    async def wait(self, predicate: Any = None, timeout: float = 5.0) -> bytes:
        """Wait until the server wrote something (or *predicate(received)* holds)
        or closed the connection; return :attr:`received`."""

        def satisfied() -> bool:
            data = self.received
            return self.closed or (predicate(data) if predicate else bool(data))

        async def watch() -> None:
            while not satisfied():
                self.connection._changed.clear()
                await self.connection._changed.wait()

        await asyncio.wait_for(watch(), timeout)
        return self.received

    def close(self) -> None:
        """The client hangs up: the server sees ``disconnect(sock)``."""
        self.connection.close()


class MemoryTransport(BaseComponent):
    """A server transport whose connections are made by the test, in memory."""

    channel = "memory"

    def __init__(self, *, channel: Any = "memory", address: Any = ("memory", 0)) -> None:
        super().__init__(channel=channel)
        self.address = address
        self.connections: list[MemoryConnection] = []
        self._next_port = 40000

    def connect(self, peer: tuple[str, int] | None = None) -> MemoryClient:
        """Open a connection; the server side sees ``connect(sock, host, port)``."""
        if peer is None:
            self._next_port += 1
            peer = ("127.0.0.1", self._next_port)
        connection = MemoryConnection(self, peer)
        self.connections.append(connection)
        self.fire(Connect(connection, *peer))
        return MemoryClient(self, connection)

    @handler("started", channel="*")
    def _on_started(self, component: BaseComponent) -> None:
        if component is self.root:
            self.fire(Ready(self, self.address))

    @handler("write")
    def _on_write(self, sock: MemoryConnection, data: bytes) -> None:
        sock.write(data)

    @handler("close")
    def _on_close(self, sock: MemoryConnection | None = None) -> None:
        for connection in [sock] if sock is not None else list(self.connections):
            connection.close()

    @handler("read", priority=-1000)
    def _echo_shortcut(self, event: Read, sock: MemoryConnection, data: bytes) -> None:
        """A ``read`` handler that returned bytes gets them written back (as sockets do)."""
        value = event.value
        if value is None:
            return

        def write_back(done: Value) -> None:
            if not done.errors and isinstance(done.result, bytes | bytearray):
                sock.write(bytes(done.result))

        value.add_done_callback(write_back)

    @handler("disconnect", priority=-1000)
    def _forget(self, sock: MemoryConnection) -> None:
        if sock in self.connections:
            self.connections.remove(sock)
