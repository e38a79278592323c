"""``Pipe()``: two connected components, one on each end of a socket pair.

What one end is written, the other reads: a way for two parts of an application (or a
parent and a child process, with the socket handed over) to talk through the same
events as a network client: ``read(data)`` and ``disconnected()`` out, ``write(data)``
and ``close()`` in. So a protocol such as :class:`~relays_io.Line` works on a pipe
exactly as on a TCP client.
"""

from __future__ import annotations

import asyncio
import socket
from typing import Any

from relays import BaseComponent, handler
from relays.transports import Disconnected, Read

__all__ = ["Pipe", "PipeEnd"]


class _EndProtocol(asyncio.Protocol):
    def __init__(self, end: PipeEnd) -> None:
        self.end = end

    def data_received(self, data: bytes) -> None:
        self.end.fire(Read(data))

    def eof_received(self) -> bool:
        return False  # close our side too: a pipe has no half-open use here

    def connection_lost(self, exc: Exception | None) -> None:
        self.end._lost()


class PipeEnd(BaseComponent):
    """One end of a :func:`Pipe`: a client-shaped stream on its own channel."""

    def __init__(self, sock: socket.socket, *, channel: Any) -> None:
        super().__init__(channel=channel)
        self.socket = sock
        self._transport: asyncio.Transport | None = None
        self._waiting: list[bytes] = []  # written before the loop took the socket
        self._closing = False
        self._began = False

    @handler("started", channel="*")
    async def _on_started(self, component: BaseComponent) -> None:
        if component is self.root:
            await self._begin()

    @handler("registered", channel="*")
    async def _on_registered(self, component: BaseComponent, parent: BaseComponent) -> None:
        if component is self and self.running:
            await self._begin()

    @handler("stopped", channel="*")
    def _on_stopped(self, component: BaseComponent) -> None:
        if component is self.root:
            self.close()

    async def _begin(self) -> None:
        if self._began:
            return
        self._began = True
        loop = asyncio.get_running_loop()
        transport, _ = await loop.create_unix_connection(
            lambda: _EndProtocol(self), sock=self.socket
        )
        self._transport = transport
        for data in self._waiting:
            transport.write(data)
        self._waiting.clear()
        if self._closing:
            transport.close()

    @handler("write")
    def write(self, data: bytes) -> None:
        """Send *data* to the other end."""
        if self._closing:
            return
        if self._transport is None:
            self._waiting.append(bytes(data))
        else:
            self._transport.write(data)

    @handler("close")
    def close(self) -> None:
        """Close this end after what was written is sent; the other end disconnects."""
        self._closing = True
        if self._transport is not None:
            self._transport.close()
        elif not self._began:
            self.socket.close()

    def _lost(self) -> None:
        self._transport = None
        self._closing = True
        self.fire(Disconnected())


def Pipe(*channels: Any) -> tuple[PipeEnd, PipeEnd]:
    """Two connected :class:`PipeEnd` components on *channels* (default ``"a"`` and ``"b"``).

    Register both (anywhere in one tree, or in two trees); data written to one is read
    by the other.
    """
    if len(channels) not in (0, 2):
        raise TypeError(f"Pipe() takes no channels or two, not {len(channels)}")
    first, second = channels or ("a", "b")
    left, right = socket.socketpair()
    left.setblocking(False)
    right.setblocking(False)
    return PipeEnd(left, channel=first), PipeEnd(right, channel=second)
