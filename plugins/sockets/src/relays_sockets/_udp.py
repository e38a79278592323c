"""UDP servers and clients: datagrams in as ``read(address, data)``, out with ``write``.

A UDP "client" is a UDP server bound to an ephemeral port, as in circuits, with an
optional default peer so ``write(data)`` needs no address.
"""

from __future__ import annotations

import asyncio
import logging
from functools import partial
from typing import Any

from relays import BaseComponent, Value, handler
from relays.transports import Closed, Error, Read, Ready, parse_address

__all__ = ["UDPClient", "UDPServer", "udp_address"]

logger = logging.getLogger("relays.sockets")


def udp_address(address: Any, component: str) -> tuple[str, int]:
    """``(host, port)`` from ``"udp://host:port"``, ``("host", port)``, ``"host:port"``
    or a port number; raises :class:`ValueError` for other schemes."""
    scheme, parsed = parse_address(address)
    # parse_address calls scheme-less forms TCP: for a UDP component they mean UDP.
    explicit = isinstance(address, str) and "://" in address
    if scheme not in ("udp", "udp4", "udp6") and (explicit or scheme != "tcp"):
        raise ValueError(f"{component} takes a UDP address, not {address!r}")
    host, port = parsed
    return (str(host), int(port))


class _DatagramProtocol(asyncio.DatagramProtocol):
    def __init__(self, owner: UDPServer) -> None:
        self.owner = owner

    def datagram_received(self, data: bytes, addr: Any) -> None:
        address = (addr[0], addr[1])
        value = self.owner.fire(Read(address, data))
        value.add_done_callback(partial(self.owner._echo, address))

    def error_received(self, exc: Exception) -> None:
        # ICMP "port unreachable" and the like, for an earlier sendto: report, go on.
        self.owner.fire(Error(None, exc))

    def connection_lost(self, exc: Exception | None) -> None:
        self.owner._lost(exc)


class UDPServer(BaseComponent):
    """A UDP endpoint bound to *bind* (``"udp://0.0.0.0:5353"``, ``("::1", 0)``, ...).

    Fires ``ready(server, (host, port))``, ``read(address, data)`` per datagram (a
    handler that returns bytes has them sent back), ``error(address, error)`` and
    ``closed()``. Handles ``write(address, data)``, ``broadcast(data, port)`` and
    ``close()``.
    """

    channel = "server"

    def __init__(
        self,
        bind: Any = ("0.0.0.0", 0),
        *,
        channel: Any = "server",
        reuse_port: bool = False,
        allow_broadcast: bool = True,
    ) -> None:
        super().__init__(channel=channel)
        self.bind = udp_address(bind, type(self).__name__)
        self.reuse_port = reuse_port
        self.allow_broadcast = allow_broadcast
        #: The address bound to (the real port when bound to 0), once ready.
        self.address: tuple[str, int] | None = None
        self.transport: asyncio.DatagramTransport | None = None
        self._state = "new"
        self._closed: asyncio.Future[None] | None = None

    async def _begin(self) -> None:
        if self._state != "new":
            return
        self._state = "starting"
        loop = asyncio.get_running_loop()
        try:
            transport, _ = await loop.create_datagram_endpoint(
                lambda: _DatagramProtocol(self),
                local_addr=self.bind,
                reuse_port=self.reuse_port or None,
                allow_broadcast=self.allow_broadcast,
            )
        except OSError as error:
            self._state = "closed"
            logger.error("%s could not bind %r: %s", self.name, self.bind, error)
            self.fire(Error(None, error))
            return
        self.transport = transport
        name = transport.get_extra_info("sockname")
        self.address = (name[0], name[1])
        self._state = "open"
        self.fire(Ready(self, self.address))

    async def _end(self) -> None:
        transport = self.transport
        if transport is None or self._state != "open":
            self._state = "closed"
            return
        self._state = "closing"
        self._closed = asyncio.get_running_loop().create_future()
        transport.close()
        await self._closed

    def _lost(self, error: Exception | None) -> None:
        self._state = "closed"
        self.transport = None
        if error is not None:
            self.fire(Error(None, error))
        if self._closed is not None and not self._closed.done():
            self._closed.set_result(None)
        self.fire(Closed())

    def _echo(self, address: tuple[str, int], value: Value) -> None:
        if not value.errors and isinstance(value.result, bytes | bytearray | memoryview):
            self._send(address, value.result)

    def _send(self, address: Any, data: Any) -> None:
        transport = self.transport
        if transport is None or transport.is_closing():
            self.fire(Error(address, ConnectionError(f"{self.name} is closed")))
            return
        try:
            transport.sendto(data, address)
        except (OSError, ValueError) as error:
            self.fire(Error(address, error))

    # -- events ----------------------------------------------------------------------

    @handler("write")
    def _on_write(self, address: Any, data: bytes) -> None:
        self._send(address, data)

    @handler("broadcast")
    def _on_broadcast(self, data: bytes, port: int) -> None:
        self._send(("255.255.255.255", port), data)

    @handler("close")
    async def _on_close(self) -> None:
        await self._end()

    @handler("started", channel="*")
    async def _on_started(self, component: BaseComponent) -> None:
        if component is self.root:
            await self._begin()

    @handler("registered", channel="*")
    async def _on_registered(self, component: BaseComponent, parent: BaseComponent) -> None:
        if component is self and self.running:
            await self._begin()

    @handler("stopped", channel="*")
    async def _on_stopped(self, component: BaseComponent) -> None:
        if component is self.root:
            await self._end()

    @handler("unregistered", channel="*")
    async def _on_unregistered(self, component: BaseComponent, parent: BaseComponent) -> None:
        if component is self:
            await self._end()


class UDPClient(UDPServer):
    """A UDP endpoint on an ephemeral port; *address* is the default peer, so
    ``write(data)`` sends there (``write(address, data)`` still works)."""

    channel = "client"

    def __init__(
        self,
        address: Any = None,
        *,
        bind: Any = ("0.0.0.0", 0),
        channel: Any = "client",
        allow_broadcast: bool = True,
    ) -> None:
        super().__init__(bind, channel=channel, allow_broadcast=allow_broadcast)
        self.peer: tuple[str, int] | None = None
        if address is not None:
            self.peer = udp_address(address, type(self).__name__)

    @handler("write")
    def _on_write(self, *args: Any) -> None:
        if len(args) == 1:
            if self.peer is None:
                error = ValueError(f"{self.name} has no peer: fire write(address, data)")
                self.fire(Error(None, error))
                return
            self._send(self.peer, args[0])
        else:
            self._send(*args)
