"""What a server's and a client's WebSocket endpoints share: their sockets and their events.

:class:`WebSocketEndpoint` owns the set of open sockets and the groups they joined;
sockets report to it through :meth:`~WebSocketEndpoint.opened`,
:meth:`~WebSocketEndpoint.received` and :meth:`~WebSocketEndpoint.gone`, and it turns
those into the ``connect``/``read``/``disconnect`` events on its channel, and the
``write``/``close``/``broadcast`` commands into calls on the sockets. With a
*session* coroutine function it runs ``session(sock)`` per connection instead of
firing ``read`` (the async API: ``async for message in sock``) and closes the socket
when the coroutine returns.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from relays import NOT_DELIVERED, BaseComponent, Priority, Value, handler

from ._errors import ConnectionClosed
from ._events import Connect, Disconnect, Read
from ._limits import WebSocketLimits
from ._websocket import WebSocket

__all__ = ["Session", "WebSocketEndpoint", "make_limits"]

logger = logging.getLogger("relays_websocket")

#: Sockets close (1001) just before the protocols under them stop (an upgraded HTTP
#: connection is closed when the HTTP server stops), so that their close frames get out.
STOPPED_PRIORITY = Priority.STOP_PROTOCOLS + 1

#: A coroutine function run once per connection, for code that prefers ``async for``.
Session = Callable[[WebSocket], Awaitable[None]]


def make_limits(limits: WebSocketLimits | None, overrides: dict[str, Any]) -> WebSocketLimits:
    """*limits* (or the defaults) with keyword overrides (``max_message=...``)."""
    base = limits or WebSocketLimits()
    try:
        return base if not overrides else type(base)(**{**_fields(base), **overrides})
    except TypeError as error:
        raise TypeError(f"unknown WebSocket limit: {error}") from None


def _fields(limits: WebSocketLimits) -> dict[str, Any]:
    import attrs

    return attrs.asdict(limits)


class WebSocketEndpoint(BaseComponent):
    """The sockets of one endpoint and their events (base of server and client)."""

    channel = "ws"

    def __init__(self, *, channel: Any, limits: WebSocketLimits, session: Session | None) -> None:
        super().__init__(channel=channel)
        self.limits = limits
        self.session = session
        #: The open sockets.
        self.sockets: set[WebSocket] = set()
        self._groups: dict[Any, set[WebSocket]] = {}
        self._sessions: set[asyncio.Task[None]] = set()
        self._channels = (channel,)

    # -- what sockets report ---------------------------------------------------------

    @property
    def on_message(self) -> Callable[[WebSocket, str | bytes], None] | None:
        """The callback a new socket gives each message (None: the socket queues them)."""
        return None if self.session is not None else self.received

    def opened(self, sock: WebSocket) -> None:
        self.sockets.add(sock)
        self.fire(Connect(sock))
        if self.session is not None:
            task = asyncio.get_running_loop().create_task(self._run_session(sock))
            self._sessions.add(task)
            task.add_done_callback(self._sessions.discard)

    async def _run_session(self, sock: WebSocket) -> None:
        assert self.session is not None
        try:
            await self.session(sock)
        except ConnectionClosed:
            pass
        except Exception:
            logger.exception("%s: the session of %r failed", self.name, sock)
            sock.close(1011, "internal error")
            return
        sock.close()

    def received(self, sock: WebSocket, message: str | bytes) -> None:
        result = self.deliver(Read, self._channels, sock, message)
        if result is NOT_DELIVERED:
            self.fire(Read(sock, message)).add_done_callback(self._echo_value)
        elif result is not None:
            self._echo(sock, result)

    def _echo_value(self, value: Value) -> None:
        if not value.errors and value.result is not None:
            self._echo(value.event.args[0], value.result)

    def _echo(self, sock: WebSocket, result: Any) -> None:
        kind = type(result)
        if kind is bytes or kind is str or isinstance(result, str | bytes):
            sock.send_or_drop(result)
        elif kind is Value:
            result.add_done_callback(self._echo_value)

    def gone(self, sock: WebSocket) -> None:
        self.sockets.discard(sock)
        for group in list(sock.groups):
            self.leave(sock, group)
        self.fire(Disconnect(sock))

    # -- groups ----------------------------------------------------------------------

    def join(self, sock: WebSocket, group: Any) -> None:
        """Add *sock* to *group*, so ``broadcast(message, group)`` reaches it."""
        if sock in self.sockets:
            self._groups.setdefault(group, set()).add(sock)
            sock.groups.add(group)

    def leave(self, sock: WebSocket, group: Any) -> None:
        """Take *sock* out of *group* (a socket leaves every group when it closes)."""
        members = self._groups.get(group)
        if members is not None:
            members.discard(sock)
            if not members:
                del self._groups[group]
        sock.groups.discard(group)

    def members(self, group: Any = None) -> set[WebSocket]:
        """The sockets of *group*, or every open socket of the endpoint."""
        return set(self.sockets if group is None else self._groups.get(group, ()))

    # -- commands --------------------------------------------------------------------

    @handler("write")
    def _on_write(self, sock: WebSocket, message: str | bytes) -> None:
        sock.send_or_drop(message)

    @handler("close")
    def _on_close(self, sock: WebSocket | None = None, code: int = 1000, reason: str = "") -> None:
        for each in [sock] if sock is not None else list(self.sockets):
            each.close(code, reason)

    @handler("broadcast")
    def _on_broadcast(
        self,
        message: str | bytes,
        group: Any = None,
        exclude: WebSocket | Iterable[WebSocket] | None = None,
    ) -> None:
        skipped = {exclude} if isinstance(exclude, WebSocket) else set(exclude or ())
        for sock in self.sockets if group is None else list(self._groups.get(group, ())):
            if sock not in skipped:
                sock.send_or_drop(message)

    # -- life cycle ------------------------------------------------------------------

    @handler("stopped", channel="*", priority=STOPPED_PRIORITY)
    async def _on_stopped(self, component: BaseComponent) -> None:
        if component is self.root:
            await self._end()

    @handler("unregistered", channel="*")
    async def _on_unregistered(self, component: BaseComponent, parent: BaseComponent) -> None:
        if component is self:
            await self._end()

    async def _end(self) -> None:
        """Close every socket with 1001 ("going away") and wait for them, bounded."""
        for sock in list(self.sockets):
            sock.close(1001, "going away")
        for sock in list(self.sockets):
            try:
                await asyncio.wait_for(sock.wait_closed(), self.limits.close_timeout)
            except TimeoutError:
                sock.connection.close()
        for task in list(self._sessions):
            task.cancel()
