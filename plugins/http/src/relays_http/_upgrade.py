"""Switching protocols: how an HTTP connection is handed to another protocol.

Theory of operation
-------------------
A client that wants another protocol on its connection (WebSocket, say) sends
an ordinary request with ``Connection: upgrade`` and ``Upgrade: <protocols>``. A
request handler that agrees answers with :class:`SwitchProtocols`: the protocol
chosen, the :class:`UpgradeHandler` that will speak it, and the fields of the
``101`` (``Sec-WebSocket-Accept``...).

The sans-IO core checks that the switch is legal (the request offered that
protocol, HTTP/1.1, received in full, nothing answered yet) and renders the
``101``; anything else is the app's mistake, logged and answered with a 500. The
``HTTP`` component then writes the ``101`` and moves the connection out of its
HTTP sessions into an :class:`UpgradedConnection`, which owns it from then on:

* the handler's ``connection_made`` gets the connection handle and the bytes
  the client sent right after its request (already read, so they would be lost
  otherwise; often the new protocol's first frame);
* ``read``, ``eof`` and ``disconnect`` of that connection go to the handler's
  ``data_received``, ``eof_received`` and ``connection_lost``;
* HTTP's timeouts no longer apply (the new protocol has its own), but the
  connection still counts toward ``max_connections``;
* when the server stops, the connection is closed and ``connection_lost(None)``
  is called, once.

A handler callback that raises is logged and the connection closed: a bug in one
connection's protocol never reaches the server's dispatch.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import Protocol, runtime_checkable

from relays.transports import Connection

__all__ = ["SwitchProtocols", "UpgradeHandler", "UpgradedConnection"]

logger = logging.getLogger("relays.http")


@runtime_checkable
class UpgradeHandler(Protocol):
    """What speaks the new protocol on a connection after ``101 Switching Protocols``.

    The methods are called on the event loop, in order: ``connection_made`` once,
    then ``data_received`` and at most one ``eof_received``, then
    ``connection_lost`` once. Write and close through the connection handle.
    """

    def connection_made(self, connection: Connection, buffered: bytes) -> None:
        """The ``101`` is written; *buffered* is what the client sent after its
        request (``b""`` when nothing), the new protocol's first bytes."""

    def data_received(self, data: bytes) -> None:
        """More bytes from the client."""

    def eof_received(self) -> None:
        """The client half-closed: it sends nothing more (it may still read)."""

    def connection_lost(self, error: BaseException | None) -> None:
        """The connection is closed (*error*: why, when it was not a clean close)."""


class SwitchProtocols:
    """The answer that switches a connection to *protocol*, spoken by *handler*.

    Return it from a request handler (or give it as a :class:`~relays_http.Response`'s
    body): the server writes ``HTTP/1.1 101 Switching Protocols`` with
    ``Connection: Upgrade``, ``Upgrade: <protocol>`` and *headers*, stops parsing
    HTTP on the connection and hands it to *handler*. *protocol* must be one the
    request offered in its ``Upgrade`` field (compared without case); otherwise,
    or for an HTTP/1.0 request, the server logs why and answers 500.
    """

    __slots__ = ("handler", "headers", "protocol")

    def __init__(
        self,
        protocol: str,
        handler: UpgradeHandler,
        headers: Iterable[tuple[str, str]] = (),
    ) -> None:
        #: The protocol switched to, as written in the ``Upgrade`` field.
        self.protocol = protocol
        #: Who speaks it once the ``101`` is written.
        self.handler = handler
        #: Further fields of the ``101`` response.
        self.headers = list(headers)

    def __repr__(self) -> str:
        return f"<SwitchProtocols {self.protocol!r} to {self.handler!r}>"


class UpgradedConnection:
    """One connection after its switch: passes the transport's events to the handler.

    Owned by the ``HTTP`` component, which makes it at the switch and forgets it when
    the connection ends; it guards the handler's callbacks (see the theory of
    operation) and calls ``connection_lost`` exactly once.
    """

    __slots__ = ("handler", "lost", "sock")

    def __init__(self, sock: Connection, handler: UpgradeHandler) -> None:
        self.sock = sock
        self.handler = handler
        self.lost = False

    def made(self, buffered: bytes, eof: bool) -> None:
        """Start the handler: the client sent *buffered* after its request, then
        half-closed if *eof*."""
        made = self._guard("connection_made", self.handler.connection_made, self.sock, buffered)
        if made and eof:
            self.eof()

    def data(self, data: bytes) -> None:
        self._guard("data_received", self.handler.data_received, data)

    def eof(self) -> None:
        self._guard("eof_received", self.handler.eof_received)

    def closed(self, error: BaseException | None = None) -> None:
        """The connection ended (or the server stops and closes it): tell the handler once."""
        if self.lost:
            return
        self.lost = True
        try:
            self.handler.connection_lost(error)
        except Exception:
            logger.exception("%r failed in connection_lost", self.handler)

    def _guard(self, name: str, callback: Callable[..., object], *args: object) -> bool:
        try:
            callback(*args)
        except Exception:
            logger.exception("%r failed in %s; closing its connection", self.handler, name)
            self.sock.close()
            return False
        return True
