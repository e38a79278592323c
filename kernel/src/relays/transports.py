"""The contract between transports and protocols.

A transport plugin (``relays-sockets``, the in-memory transport of
:mod:`relays.testing`, ...) turns connections into the events below, fired on its
channel; a protocol component (``relays-http``, ...) listens to them on the same
channel and answers with ``write``/``close`` events or by calling the connection
handle directly. Because both sides speak only this vocabulary, a protocol works over
any transport and can be tested without sockets.

The names and argument shapes are circuits.net's: a server fires
``connect(sock, host, port)``, ``read(sock, data)``, ``disconnect(sock)``; a client
fires ``connected(host, port)``, ``read(data)``, ``disconnected()``.
"""

from __future__ import annotations

import abc
from collections.abc import Callable
from typing import IO, Any, Protocol, TypeGuard, runtime_checkable

import attrs

from ._components import BaseComponent
from ._events import Event

__all__ = [
    "Broadcast",
    "Close",
    "Closed",
    "Connect",
    "Connected",
    "Connection",
    "Disconnect",
    "Disconnected",
    "Eof",
    "Error",
    "Read",
    "Ready",
    "SupportsDeferAccept",
    "SupportsDrain",
    "SupportsSendfile",
    "Transport",
    "Unreachable",
    "Write",
    "parse_address",
    "supports",
    "supports_drain",
    "supports_sendfile",
]


class Connection(abc.ABC):
    """The handle of one connection (circuits' ``sock``).

    Apps keep it, compare it and use it as a dict key (identity semantics). Writing
    to a closed connection is never an exception: the transport reports an ``error``
    event instead.
    """

    #: Address of the other end: ``(host, port)`` for IP, a path or ``None`` for UNIX.
    peer: Any = None
    #: Address of our end of this connection.
    local: Any = None
    #: Whether the connection is encrypted (TLS).
    secure: bool = False
    #: Set by a protocol while it owes the peer an answer: a transport stopping
    #: gracefully waits for busy connections (up to its timeout) and closes idle ones.
    busy: bool = False

    @abc.abstractmethod
    def write(self, data: bytes) -> None:
        """Queue *data* for sending; never blocks."""

    @abc.abstractmethod
    def close(self) -> None:
        """Close after queued data is flushed; a ``disconnect`` event follows."""

    def linger(self) -> None:
        """Close like :meth:`close`, when the peer may still be sending.

        Closing a TCP socket with unread input resets the connection, and the reset
        can reach the peer before our last reply and destroy it. A protocol that
        answers before it has read everything (an error for a request still arriving,
        a refusal at connect) lingers instead: transports that can stop sending, read
        and discard what still comes for a short while, then close. Others close.
        """
        self.close()

    @property
    @abc.abstractmethod
    def closing(self) -> bool:
        """True once the connection is closed or closing."""

    def pause_reading(self) -> None:  # noqa: B027 - optional for transports
        """Stop delivering ``read`` events until :meth:`resume_reading`."""

    def resume_reading(self) -> None:  # noqa: B027 - optional for transports
        """Deliver ``read`` events again."""

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        """Transport details (``"peercert"``, ``"sslcontext"``, ``"socket"``, ...)."""
        return default

    def __repr__(self) -> str:
        state = " closing" if self.closing else ""
        return f"<{type(self).__name__} peer={self.peer!r}{state}>"


# -- optional capabilities ------------------------------------------------------------
# What some connections and servers can do beyond the Connection ABC. A protocol asks with
# ``supports(sock, SupportsDrain)`` and falls back to the plain way when the answer is no.


@runtime_checkable
class SupportsDrain(Protocol):
    """A connection whose writer can wait until its send buffer is below the high-water mark.

    Streaming protocols await it between chunks, so that a slow reader slows the producer
    down instead of growing the buffer without bound.
    """

    async def drain(self) -> None:
        """Return once the buffered output is below the high-water mark (at once if it is)."""


@runtime_checkable
class SupportsSendfile(Protocol):
    """A connection that can send part of a file without copying it through Python."""

    async def sendfile(self, file: IO[bytes], offset: int = 0, count: int | None = None) -> int:
        """Send *count* bytes of *file* from *offset* (to its end when ``None``); return the
        number of bytes sent. The file must be opened in binary mode."""


@runtime_checkable
class SupportsDeferAccept(Protocol):
    """A server component that can leave a new connection with the system until its first
    bytes arrive (Linux ``TCP_DEFER_ACCEPT``), so that silent connections cost no handler.

    ``defer_accept`` is in seconds; ``0`` is off, and ``None`` means the user did not choose,
    so that a protocol that knows its clients speak first (HTTP) may turn it on.
    """

    defer_accept: float | None


#: (connection class, capability) -> the answer. A connection's capabilities are its class's,
#: and the classes of connections in a process are few, so this stays small; it is owned by
#: :func:`supports` alone.
_SUPPORTED: dict[tuple[type, object], bool] = {}


def supports(connection: object, capability: object) -> bool:
    """Whether *connection* has *capability* (:class:`SupportsDrain`, ...), answered per class.

    ``isinstance()`` against a runtime-checkable protocol looks its members up again on every
    call (about 100 microseconds for a "no" on Python 3.11): too slow for a request's path, so
    the answer for the connection's class is remembered. :func:`supports_drain` and
    :func:`supports_sendfile` say the same and narrow the type for a type checker.
    """
    key = (type(connection), capability)
    known = _SUPPORTED.get(key)
    if known is None:
        assert isinstance(capability, type)
        known = _SUPPORTED[key] = isinstance(connection, capability)
    return known


def supports_drain(connection: object) -> TypeGuard[SupportsDrain]:
    """Whether *connection* is :class:`SupportsDrain` (answered per class: :func:`supports`)."""
    return supports(connection, SupportsDrain)


def supports_sendfile(connection: object) -> TypeGuard[SupportsSendfile]:
    """Whether *connection* is :class:`SupportsSendfile` (answered per class)."""
    return supports(connection, SupportsSendfile)


@attrs.frozen
class Transport:
    """What a transport plugin returns for one scheme.

    ``server(address, **options)`` and ``client(address, **options)`` make the
    server and client components (``channel=`` is always accepted); either may be
    ``None`` when the scheme has no such side.
    """

    scheme: str
    server: Callable[..., BaseComponent] | None = None
    client: Callable[..., BaseComponent] | None = None


def parse_address(address: Any) -> tuple[str, Any]:
    """Split a bind or connect address into ``(scheme, address)``.

    ``"tcp://host:port"``, ``"tls://[::1]:443"``, ``"udp://0.0.0.0:53"`` give a
    ``(host, port)`` tuple; ``"unix:///run/app.sock"`` or a path starting with ``/``
    or ``.`` gives the path, ``"unix:@name"`` (or ``"unix://@name"``) gives ``"@name"``,
    a socket of Linux's abstract namespace; ``"fd://3"`` gives the number of an
    inherited listening socket's descriptor; ``("host", port)`` and ``"host:port"`` mean TCP, and a
    bare port number binds every interface. Raises :class:`ValueError` naming what
    was wrong.
    """
    if isinstance(address, int) and not isinstance(address, bool):
        return "tcp", ("0.0.0.0", _port(address, address))
    if isinstance(address, tuple):
        if len(address) != 2:
            raise ValueError(f"address tuple must be (host, port), not {address!r}")
        return "tcp", (str(address[0]), _port(address[1], address))
    if not isinstance(address, str) or not address:
        raise ValueError(f"address must be a URL, a path, (host, port) or a port: {address!r}")
    scheme, separator, rest = address.partition("://")
    if not separator:
        if address.startswith(("/", ".")):
            return "unix", address
        if address[:6].lower() == "unix:@":  # Linux's abstract namespace: no file
            return "unix", address[5:]
        scheme, rest = "tcp", address
    scheme = scheme.lower()
    if scheme == "unix":
        if not rest:
            raise ValueError(f"unix address needs a path: {address!r}")
        return scheme, rest
    if scheme == "fd":
        if not rest.isdigit():
            raise ValueError(f"fd address needs a descriptor number (fd://3): {address!r}")
        return scheme, int(rest)
    return scheme, _host_port(rest, address)


def _host_port(text: str, original: str) -> tuple[str, int]:
    text = text.rstrip("/")
    if text.startswith("["):
        host, bracket, tail = text[1:].partition("]")
        if not bracket or not tail.startswith(":"):
            raise ValueError(f"IPv6 address must look like [::1]:port: {original!r}")
        port_text = tail[1:]
    else:
        host, colon, port_text = text.rpartition(":")
        if not colon:
            raise ValueError(f"address needs a port (host:port): {original!r}")
    return host or "0.0.0.0", _port(port_text, original)


def _port(value: Any, original: Any) -> int:
    try:
        port = int(value)
    except (TypeError, ValueError):
        raise ValueError(f"port must be a number from 0 to 65535: {original!r}") from None
    if not 0 <= port <= 65535:
        raise ValueError(f"port must be a number from 0 to 65535: {original!r}")
    return port


# -- events -------------------------------------------------------------------------


class Connect(Event):
    """Server: ``connect(sock, host, port)`` a peer connected. Client: a request to connect,
    ``connect(host, port, secure=False)``."""


class Connected(Event):
    """Client: ``connected(host, port)`` the connection is up."""


class Disconnect(Event):
    """Server: ``disconnect(sock)`` the peer's connection ended."""


class Disconnected(Event):
    """Client: ``disconnected()`` the connection ended."""


class Eof(Event):
    """Server: ``eof(sock)`` the peer half-closed: it sends no more, but may still read.

    When a handler listens for ``eof`` on the transport's channel, the protocol owns
    the rest (answer, then ``sock.close()``); when none does, the transport closes the
    connection once the pending ``read`` events are handled.
    """


class Read(Event):
    """``read(sock, data)`` on a server, ``read(data)`` on a client, ``read(address, data)``
    on UDP. A server handler that returns bytes has them written back."""


class Write(Event):
    """``write(sock, data)`` / ``write(data)`` / ``write(address, data)``: send data."""


class Close(Event):
    """``close(sock)`` closes one connection; ``close()`` closes them all and the server."""


class Ready(Event):
    """``ready(server, (host, port))``: listening, with the real port when bound to 0."""


class Closed(Event):
    """``closed()``: the server stopped listening and every connection is closed."""


class Error(Event):
    """``error(sock, error)`` on a server, ``error(error)`` on a client."""


class Unreachable(Event):
    """Client: ``unreachable(host, port, reason)`` the connection attempt failed."""


class Broadcast(Event):
    """UDP: ``broadcast(data, port)`` send *data* to every host on *port*."""
