"""The WebSocket server: an endpoint at a path of a relays-http server.

:class:`WebSockets` listens for ``request`` on the HTTP server's channel. A request
for its path is checked as an opening handshake (:func:`answer_request`, the Origin
policy, the app's *authorize* hook) and answered with relays-http's
:class:`~relays_http.SwitchProtocols`; HTTP writes the ``101`` and hands the
connection to an :class:`_Upgrade`, which makes the :class:`WebSocket` and gives it
the bytes from then on. A bad handshake is an HTTP error answer (400, 403, 426),
never a traceback. A controller method may do its own checks and return
``websockets.upgrade(self.request)`` instead of mounting at a path.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

from relays import BaseComponent, Event, Priority, handler
from relays.transports import Connection
from relays_http import HTTPError, Request, Response, SwitchProtocols

from ._deflate import DEFAULT_COMPRESSION_LEVEL, Deflate, check_compression_level
from ._endpoint import Session, WebSocketEndpoint, make_limits
from ._errors import InvalidHandshake
from ._handshake import ServerAnswer, answer_request
from ._limits import WebSocketLimits
from ._protocol import WebSocketProtocol
from ._websocket import WebSocket

__all__ = ["OriginPolicy", "WebSockets"]

#: Allowed ``Origin`` values, or a function that decides (it gets ``None`` when the
#: client sent none: not a browser).
OriginPolicy = Iterable[str] | Callable[[str | None], bool]


class _Upgrade:
    """Speaks WebSocket on one connection after the ``101`` (relays-http's UpgradeHandler)."""

    __slots__ = ("_answer", "_compression_level", "_endpoint", "_request", "sock")

    def __init__(
        self,
        endpoint: WebSocketEndpoint,
        answer: ServerAnswer,
        request: Request,
        compression_level: int,
    ) -> None:
        self._endpoint = endpoint
        self._answer = answer
        self._request = request
        self._compression_level = compression_level
        self.sock: WebSocket | None = None

    def connection_made(self, connection: Connection, buffered: bytes) -> None:
        endpoint = self._endpoint
        deflate = self._answer.deflate
        protocol = WebSocketProtocol(
            is_client=False,
            limits=endpoint.limits,
            deflate=(
                Deflate(deflate, is_client=False, level=self._compression_level)
                if deflate is not None
                else None
            ),
        )
        sock = self.sock = WebSocket(
            connection,
            protocol,
            on_message=endpoint.on_message,
            on_disconnect=endpoint.gone,
            path=self._request.path,
            subprotocol=self._answer.subprotocol,
            request=self._request,
        )
        endpoint.opened(sock)
        if buffered:
            sock.feed(buffered)

    def data_received(self, data: bytes) -> None:
        assert self.sock is not None
        self.sock.feed(data)

    def eof_received(self) -> None:
        assert self.sock is not None
        self.sock.eof()

    def connection_lost(self, error: BaseException | None) -> None:
        if self.sock is not None:
            self.sock.connection_lost(error)

    def __repr__(self) -> str:
        return f"<WebSocket upgrade {self._request.path}>"


class WebSockets(BaseComponent):
    """A WebSocket endpoint at *path* of the HTTP server on *web_channel*.

    With ``path=None`` it answers no request by itself: controller pages open its
    WebSockets with :meth:`upgrade`, after their own checks.

    Its events (``connect``, ``read``, ``disconnect``; commands ``write``, ``close``,
    ``broadcast``) travel on *channel* (``"ws"``). *subprotocols* are the ones the
    server speaks, best first; *origins* the allowed ``Origin`` values or a function
    deciding (default: any); *authorize(request)* may refuse a handshake by returning
    False (403) or raising an :class:`~relays_http.HTTPError`. *compression* accepts
    permessage-deflate offers (*no_context_takeover* trades ratio for memory;
    *compression_level* is zlib's, 1 by default: the fastest, see the explanation page).
    *session*, an ``async def session(sock)``, runs per connection instead of
    ``read`` events. Limits come from *limits* and keyword overrides
    (``max_message=...``, see :class:`WebSocketLimits`).
    """

    channel = "web"

    def __init__(
        self,
        path: str | None = "/ws",
        *,
        channel: Any = "ws",
        web_channel: Any = "web",
        subprotocols: Sequence[str] = (),
        origins: OriginPolicy | None = None,
        authorize: Callable[[Request], bool] | None = None,
        compression: bool = True,
        no_context_takeover: bool = False,
        compression_level: int = DEFAULT_COMPRESSION_LEVEL,
        session: Session | None = None,
        limits: WebSocketLimits | None = None,
        **limit_options: Any,
    ) -> None:
        if path is not None and not path.startswith("/"):
            raise ValueError(f"a WebSockets path starts with '/', not {path!r}")
        super().__init__(channel=web_channel)
        self.path = path
        self.subprotocols = tuple(subprotocols)
        self.authorize = authorize
        self.compression = compression
        self.no_context_takeover = no_context_takeover
        check_compression_level(compression_level)
        self.compression_level = compression_level
        if origins is None or callable(origins):
            self._origin_allowed = origins
        else:
            allowed = frozenset(origins)
            self._origin_allowed = allowed.__contains__
        #: The endpoint that owns the sockets and fires their events on *channel*.
        self.endpoint = WebSocketEndpoint(
            channel=channel, limits=make_limits(limits, limit_options), session=session
        ).register(self)

    def __repr__(self) -> str:
        return f"<WebSockets {self.path or '(from controllers)'}>"

    @property
    def sockets(self) -> set[WebSocket]:
        """The open sockets."""
        return self.endpoint.sockets

    def join(self, sock: WebSocket, group: Any) -> None:
        """Add *sock* to *group* (``broadcast(message, group)`` reaches its members)."""
        self.endpoint.join(sock, group)

    def leave(self, sock: WebSocket, group: Any) -> None:
        """Take *sock* out of *group*."""
        self.endpoint.leave(sock, group)

    @handler("request", priority=Priority.DISPATCH)
    def _on_request(self, event: Event, request: Request, response: Response) -> Any:
        if self.path is None or request.path != self.path:
            return None
        event.stop()
        return self.upgrade(request)

    def upgrade(self, request: Request) -> SwitchProtocols | HTTPError:
        """The answer to *request* as a WebSocket handshake: the switch, or the HTTP error.

        Return it from a controller's page to open a WebSocket there.
        """
        headers = request.headers
        origin = headers.get("origin")
        if self._origin_allowed is not None and not self._origin_allowed(origin):
            return HTTPError(403, f"Origin {origin!r} may not open this WebSocket")
        try:
            answer = answer_request(
                request.method,
                lambda name: headers.getall(name),
                subprotocols=self.subprotocols,
                compression=self.compression,
                no_context_takeover=self.no_context_takeover,
            )
        except InvalidHandshake as error:
            # Header names in lower case, as relays-http writes its own (and h11 does).
            extra = (
                {"sec-websocket-version": "13", "upgrade": "websocket"}
                if error.status == 426
                else None
            )
            return HTTPError(error.status, str(error), headers=extra)
        if self.authorize is not None and not self.authorize(request):
            return HTTPError(403, "this WebSocket handshake was not authorized")
        return SwitchProtocols(
            "websocket",
            _Upgrade(self.endpoint, answer, request, self.compression_level),
            answer.headers,
        )
