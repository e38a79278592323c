"""The WebSocket client: its own HTTP/1.1 handshake over relays-sockets' TCP/TLS client.

:class:`WebSocketClient` is a component: it holds a
:class:`~relays_sockets.TCPClient` on a private channel, sends the upgrade request
when the connection is up, reads the answer head (at most ``max_handshake`` bytes),
checks it, and from then on feeds the socket's bytes to a :class:`WebSocket`. It
fires the same events as a server endpoint on its own channel, plus
``unreachable(url, error)`` when no WebSocket could be opened. :func:`connect` is the
async form: ``async with connect(url) as ws``.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import AsyncIterator, Sequence
from typing import Any
from urllib.parse import urlsplit

from relays import BaseComponent, handler
from relays_sockets import TCPClient

from ._deflate import DEFAULT_COMPRESSION_LEVEL, Deflate, check_compression_level
from ._endpoint import Session, WebSocketEndpoint, make_limits
from ._errors import InvalidHandshake, WebSocketError
from ._events import Unreachable
from ._handshake import ClientHandshake, parse_response_head
from ._limits import WebSocketLimits
from ._protocol import WebSocketProtocol
from ._websocket import WebSocket

__all__ = ["WebSocketClient", "connect", "split_url"]


def split_url(url: str) -> tuple[bool, str, int, str]:
    """``(secure, host, port, path with query)`` of a ``ws://`` or ``wss://`` URL."""
    parts = urlsplit(url)
    if parts.scheme not in ("ws", "wss") or not parts.hostname:
        raise ValueError(f"a WebSocket URL looks like ws://host[:port]/path, not {url!r}")
    secure = parts.scheme == "wss"
    port = parts.port or (443 if secure else 80)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return secure, parts.hostname, port, path


class _Dialer(BaseComponent):
    """The client's side of its TCP connection (private channel): the handshake, then bytes."""

    def __init__(self, client: WebSocketClient, channel: str) -> None:
        super().__init__(channel=channel)
        self._client = client

    @handler("connected")
    def _on_connected(self, host: str, port: int) -> None:
        self._client.tcp_connected()

    @handler("read")
    def _on_read(self, data: bytes) -> None:
        self._client.tcp_read(data)

    @handler("disconnected")
    def _on_disconnected(self) -> None:
        self._client.tcp_lost()

    @handler("unreachable")
    def _on_unreachable(self, host: str, port: int, reason: BaseException) -> None:
        self._client.failed(reason)

    @handler("error")
    def _on_error(self, error: BaseException) -> None:
        if self._client.websocket is None:
            self._client.failed(error)


class WebSocketClient(WebSocketEndpoint):
    """A WebSocket client for *url* (``ws://`` or ``wss://``), connecting when started.

    Events on *channel*: ``connect(sock)``, ``read(sock, message)``,
    ``disconnect(sock)``, ``unreachable(url, error)``; it handles ``write``,
    ``close`` and ``broadcast`` like a server endpoint. *subprotocols* are offered
    best first, *headers* added to the request (``Authorization``, ``Origin``...),
    *compression* offers permessage-deflate (*compression_level*: zlib's, 1 by
    default, the fastest). TLS options (*cafile*, *verify*,
    *ssl_context*) go to relays-sockets. *session* runs per connection instead of
    ``read`` events (see :class:`~relays_websocket.WebSockets`).
    """

    def __init__(
        self,
        url: str,
        *,
        channel: Any = "ws",
        subprotocols: Sequence[str] = (),
        headers: Sequence[tuple[str, str]] = (),
        compression: bool = True,
        compression_level: int = DEFAULT_COMPRESSION_LEVEL,
        session: Session | None = None,
        limits: WebSocketLimits | None = None,
        ssl_context: ssl.SSLContext | None = None,
        cafile: str | None = None,
        verify: bool = True,
        connect_timeout: float = 10.0,
        **limit_options: Any,
    ) -> None:
        super().__init__(
            channel=channel, limits=make_limits(limits, limit_options), session=session
        )
        self.url = url
        check_compression_level(compression_level)
        self.compression_level = compression_level
        secure, host, port, path = split_url(url)
        default_port = 443 if secure else 80
        self._handshake = ClientHandshake(
            host if port == default_port else f"{host}:{port}",
            path,
            subprotocols=subprotocols,
            compression=compression,
            extra_headers=headers,
        )
        tcp_channel = f"{channel}.tcp.{id(self):x}"
        self._tcp = TCPClient(
            (host, port),
            channel=tcp_channel,
            secure=secure,
            ssl_context=ssl_context,
            cafile=cafile,
            verify=verify,
            connect_timeout=connect_timeout,
        ).register(self)
        _Dialer(self, tcp_channel).register(self)
        self._head = bytearray()
        #: The open WebSocket, once the handshake succeeded.
        self.websocket: WebSocket | None = None
        self._ready: asyncio.Future[WebSocket] | None = None
        self._error: BaseException | None = None

    def __repr__(self) -> str:
        return f"<WebSocketClient {self.url}>"

    async def wait_connected(self, timeout: float | None = None) -> WebSocket:
        """The WebSocket once open; raises the reason when it could not be opened."""
        if self.websocket is not None:
            return self.websocket
        if self._error is not None:
            raise self._error
        if self._ready is None:
            self._ready = asyncio.get_running_loop().create_future()
        async with asyncio.timeout(timeout):
            return await asyncio.shield(self._ready)

    # -- what the dialer reports -----------------------------------------------------

    def tcp_connected(self) -> None:
        sock = self._tcp.sock
        assert sock is not None
        sock.write(self._handshake.request())

    def tcp_read(self, data: bytes) -> None:
        if self.websocket is not None:
            self.websocket.feed(data)
            return
        self._head += data
        end = self._head.find(b"\r\n\r\n")
        if end < 0:
            if len(self._head) > self.limits.max_handshake:
                self._refuse(InvalidHandshake("the server's answer head is over max_handshake"))
            return
        rest = bytes(self._head[end + 4 :])
        try:
            status, header = parse_response_head(bytes(self._head[:end]))
            subprotocol, deflate = self._handshake.verify(status, header)
        except InvalidHandshake as error:
            self._refuse(error)
            return
        self._head = bytearray()
        connection = self._tcp.sock
        assert connection is not None
        protocol = WebSocketProtocol(
            is_client=True,
            limits=self.limits,
            deflate=(
                Deflate(deflate, is_client=True, level=self.compression_level)
                if deflate is not None
                else None
            ),
        )
        sock = WebSocket(
            connection,
            protocol,
            on_message=self.on_message,
            on_disconnect=self.gone,
            path=self._handshake.path,
            subprotocol=subprotocol,
        )
        self.websocket = sock
        self.opened(sock)
        if self._ready is not None and not self._ready.done():
            self._ready.set_result(sock)
        if rest:
            sock.feed(rest)

    def _refuse(self, error: WebSocketError) -> None:
        self.failed(error)
        if self._tcp.sock is not None:
            self._tcp.sock.close()

    def tcp_lost(self) -> None:
        if self.websocket is not None:
            self.websocket.connection_lost()
        else:
            self.failed(ConnectionError(f"{self.url} closed the connection during the handshake"))

    def failed(self, error: BaseException) -> None:
        if self._error is not None or self.websocket is not None:
            return
        self._error = error
        self.fire(Unreachable(self.url, error))
        if self._ready is not None and not self._ready.done():
            self._ready.set_exception(error)
            self._ready.exception()  # retrieved: wait_connected raises it, or nobody asked


@contextlib.asynccontextmanager
async def connect(
    url: str, *, timeout: float | None = 10.0, **options: Any
) -> AsyncIterator[WebSocket]:
    """``async with connect("ws://host/path") as ws``: an open WebSocket, closed on exit.

    Runs a :class:`WebSocketClient` of its own (*options* are its keyword arguments)
    on the running loop; messages are read with ``await ws.receive()`` or
    ``async for message in ws``. Raises :class:`~relays_websocket.InvalidHandshake`
    or :class:`OSError` when the WebSocket cannot be opened.
    """
    client = WebSocketClient(url, session=_hold, **options)
    async with client:
        sock = await client.wait_connected(timeout)
        try:
            yield sock
        finally:
            sock.close()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(client.limits.close_timeout):
                    await sock.wait_closed()


async def _hold(sock: WebSocket) -> None:
    """The session of :func:`connect`: the caller reads; keep the socket open until it closes."""
    await sock.wait_closed()
