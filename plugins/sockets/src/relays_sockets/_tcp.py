"""TCP servers and clients, IPv4 or IPv6 by address, plain or TLS."""

from __future__ import annotations

import asyncio
import socket
import ssl
from collections.abc import Mapping
from typing import Any

from relays import handler
from relays.transports import parse_address

from ._limits import SocketLimits
from ._own_transport import Listener, chosen
from ._stream import StreamClient, StreamServer, make_limits
from ._tls import VerifyClient, client_context, server_context

__all__ = ["TCPClient", "TCPServer", "split_tcp_address"]

_TCP_SCHEMES = ("tcp", "tcp4", "tcp6", "tls")


def split_tcp_address(address: Any, component: str) -> tuple[tuple[str, int], bool]:
    """``((host, port), tls)`` for any address :func:`relays.transports.parse_address`
    takes; ``tls://`` means TLS. Raises :class:`ValueError` for other schemes."""
    scheme, parsed = parse_address(address)
    if scheme not in _TCP_SCHEMES:
        hint = " (use UNIXServer/UNIXClient)" if scheme == "unix" else ""
        raise ValueError(f"{component} takes a TCP or TLS address, not {address!r}{hint}")
    host, port = parsed
    return (host, port), scheme == "tls"


class TCPServer(StreamServer):
    """A TCP server: ``TCPServer("tcp://127.0.0.1:8000")``, ``TCPServer(("::1", 0))``.

    *bind* is anything :func:`relays.transports.parse_address` accepts, or an already
    bound :class:`socket.socket` (systemd socket activation, a parent process). TLS is
    on with ``tls://`` addresses, ``secure=True`` or any TLS option: *ssl_context*, or
    *certfile*/*keyfile* (with *cafile* and *verify_client* to ask clients for a
    certificate), and *sni* mapping server names to other contexts. *reuse_port* lets
    several processes listen on one port. Limits come from *limits* (a
    :class:`SocketLimits`) with any of its fields given as keywords on top.

    *defer_accept* (seconds) is for protocols whose clients speak first (HTTP, most
    request/response protocols): the system hands a new connection over only once its
    first bytes have arrived, or after about that long (Linux ``TCP_DEFER_ACCEPT``;
    elsewhere it is ignored). Connections that never send cost no descriptor, and the
    first ``read`` comes in the same step as ``connect``. ``None`` leaves it to the
    protocol component registered on top (relays-http turns it on); ``0`` is off.

    *fast_transport*: on asyncio's default loops and on uvloop, TCP connections are
    accepted and carried by relays' own lean transport, which behaves as the loop's
    does at a lower cost per connection; ``False`` (or ``RELAYS_FAST_TRANSPORT=0`` in
    the environment) keeps the loop's server and transports. TLS servers on uvloop, and
    loops that cannot watch a socket (the proactor loop), always use the loop's own.

    Fires ``ready(server, (host, port))`` once listening, then per connection
    ``connect(sock, host, port)``, ``read(sock, data)``, ``disconnect(sock)`` and
    ``error(sock, error)``; ``closed()`` after stopping. Handles ``write(sock, data)``
    and ``close(sock)`` / ``close()``.
    """

    def __init__(
        self,
        bind: Any = ("0.0.0.0", 8000),
        *,
        channel: Any = "server",
        secure: bool = False,
        ssl_context: ssl.SSLContext | None = None,
        certfile: str | None = None,
        keyfile: str | None = None,
        password: str | None = None,
        cafile: str | None = None,
        verify_client: VerifyClient = False,
        sni: Mapping[str, ssl.SSLContext] | None = None,
        reuse_port: bool = False,
        reuse_address: bool = True,
        defer_accept: float | None = None,
        fast_transport: bool | None = None,
        limits: SocketLimits | None = None,
        **limit_options: Any,
    ) -> None:
        #: Whether TCP connections get relays' own lean transport where the loop allows
        #: (see above); ``None``: yes unless ``RELAYS_FAST_TRANSPORT=0``.
        self.fast_transport = fast_transport
        if defer_accept is not None and not 0 <= defer_accept < float("inf"):
            raise ValueError(f"defer_accept must be 0 or more seconds, not {defer_accept!r}")
        #: Seconds a new connection may wait for its first bytes before the system
        #: hands it over (see above); read when the server starts listening.
        self.defer_accept = defer_accept
        self._socket: socket.socket | None = None
        self.bind: tuple[str, int] | None = None
        if isinstance(bind, socket.socket):
            self._socket = bind
        else:
            self.bind, tls_scheme = split_tcp_address(bind, type(self).__name__)
            secure = secure or tls_scheme
        wants_tls = secure or any((ssl_context, certfile, keyfile, cafile, verify_client, sni))
        context = None
        if wants_tls:
            context = server_context(
                ssl_context=ssl_context,
                certfile=certfile,
                keyfile=keyfile,
                password=password,
                cafile=cafile,
                verify_client=verify_client,
                sni=sni,
            )
        super().__init__(
            channel=channel, limits=make_limits(limits, limit_options), ssl_context=context
        )
        self.reuse_port = reuse_port
        self.reuse_address = reuse_address

    async def _open(self, factory: Any) -> asyncio.AbstractServer:
        loop = asyncio.get_running_loop()
        limits = self.limits
        # Connections are accepted plain, TLS too: a TLS server's handshake is its own
        # step, counted against max_connections and timed (see StreamServer).
        # On a loop that watches sockets: bound by the loop (or given), accepted by us
        # (see _own_transport), unless turned off.
        ours = chosen(loop, self.fast_transport, tls=self.ssl_context is not None)
        if self._socket is not None:
            server = await loop.create_server(
                factory, sock=self._socket, backlog=limits.backlog, start_serving=False
            )
        else:
            assert self.bind is not None
            host, port = self.bind
            server = await loop.create_server(
                factory,
                host,
                port,
                backlog=limits.backlog,
                reuse_address=self.reuse_address,
                reuse_port=self.reuse_port or None,
                start_serving=False,
            )
        deferred = all([_defer_accept(bound, self.defer_accept) for bound in server.sockets])
        for bound in server.sockets:
            _nodelay(bound)
        if ours:
            return Listener(loop, server, factory, limits.backlog, eager=deferred)
        await server.start_serving()
        return server

    def _listening_address(self, server: asyncio.AbstractServer) -> Any:
        sockets = getattr(server, "sockets", ())
        name: Any = sockets[0].getsockname() if sockets else self.bind
        return (name[0], name[1])


def _defer_accept(listening: socket.socket, seconds: float | None) -> bool:
    """Turn on deferred accepting where the system has it; whether it is on."""
    option = getattr(socket, "TCP_DEFER_ACCEPT", None)
    if not seconds or option is None or listening.family not in (socket.AF_INET, socket.AF_INET6):
        return False
    # The system counts in whole seconds (rounded to its SYN-ACK retries): at least 1.
    listening.setsockopt(socket.IPPROTO_TCP, option, max(1, round(seconds)))
    return True


def _nodelay(listening: Any) -> None:
    """Set ``TCP_NODELAY`` on a listening socket: the system hands it down to each
    connection it accepts (Linux does; the transports set it too, but asyncio's only on
    sockets made with protocol ``IPPROTO_TCP``, which a given socket may not be).
    Without it small writes wait for the peer's ACK of the previous one (Nagle), up to
    the peer's delayed-ACK time: 40 ms on Linux, per streamed chunk or pipelined answer."""
    if listening.family in (socket.AF_INET, socket.AF_INET6):
        listening.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class TCPClient(StreamClient):
    """A TCP client: fire ``connect(host, port)`` (or give *address* to connect when
    the tree starts) and it fires ``connected(host, port)`` or
    ``unreachable(host, port, reason)``, then ``read(data)`` and ``disconnected()``;
    it handles ``write(data)`` and ``close()``.

    TLS is on with ``tls://`` addresses, ``secure=True``, ``connect(..., secure=True)``
    or any TLS option: *ssl_context*, or *cafile* to trust, a client certificate
    (*certfile*/*keyfile*), ``verify=False`` for self-signed test servers.
    *server_hostname* overrides the name sent for SNI and checked in the certificate.
    """

    def __init__(
        self,
        address: Any = None,
        *,
        channel: Any = "client",
        secure: bool = False,
        ssl_context: ssl.SSLContext | None = None,
        cafile: str | None = None,
        certfile: str | None = None,
        keyfile: str | None = None,
        password: str | None = None,
        verify: bool = True,
        server_hostname: str | None = None,
        connect_timeout: float = 10.0,
        limits: SocketLimits | None = None,
        **limit_options: Any,
    ) -> None:
        super().__init__(
            channel=channel,
            limits=make_limits(limits, limit_options),
            connect_timeout=connect_timeout,
        )
        self.address: tuple[str, int] | None = None
        if address is not None:
            self.address, tls_scheme = split_tcp_address(address, type(self).__name__)
            secure = secure or tls_scheme
        self.secure = secure or any((ssl_context, cafile, certfile, keyfile, not verify))
        self._tls_options: dict[str, Any] = {
            "ssl_context": ssl_context,
            "cafile": cafile,
            "certfile": certfile,
            "keyfile": keyfile,
            "password": password,
            "verify": verify,
        }
        self._ssl_context: ssl.SSLContext | None = None
        if self.secure:
            self._ssl_context = client_context(**self._tls_options)
        self.server_hostname = server_hostname

    @property
    def ssl_context(self) -> ssl.SSLContext:
        """The TLS context connections use (made on first use when not given)."""
        if self._ssl_context is None:
            self._ssl_context = client_context(**self._tls_options)
        return self._ssl_context

    async def _begin(self) -> None:
        if self.address is not None:
            await self._connect_to(*self.address, self.secure)

    @handler("connect")
    async def _on_connect(
        self, host: Any = None, port: int | None = None, secure: bool | None = None
    ) -> None:
        if host is None:
            if self.address is None:
                raise ValueError(f"{self.name} has no address: fire connect(host, port)")
            host, port = self.address
        elif port is None:
            (host, port), tls_scheme = split_tcp_address(host, type(self).__name__)
            secure = secure or tls_scheme
        await self._connect_to(host, port, self.secure if secure is None else secure)

    async def _dial(self, factory: Any, host: Any, port: Any, secure: bool) -> None:
        loop = asyncio.get_running_loop()
        if secure:
            await loop.create_connection(
                factory,
                host,
                port,
                ssl=self.ssl_context,
                server_hostname=self.server_hostname or host,
                ssl_handshake_timeout=self.limits.handshake_timeout,
            )
        else:
            await loop.create_connection(factory, host, port)
