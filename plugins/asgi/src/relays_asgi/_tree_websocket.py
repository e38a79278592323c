"""A ``websocket`` scope under ``application(tree)``: relays-websocket behind an ASGI server.

Theory of operation
-------------------
The ASGI server speaks the frames with the client and hands us messages;
relays-websocket speaks frames on a byte connection. Between the two sits a
:class:`MessageBridge`: a :class:`~relays.transports.Connection` held in memory,
with relays-websocket's own sans-IO protocol, as a client, on our side of it.

1. The handshake request is made from the scope (its ``sec-websocket-extensions``
   left out: compression is the ASGI server's business with the real client) and
   fired as ``request``, as under relays' own server. An answer that switches to
   ``websocket`` (a :class:`~relays_http.SwitchProtocols` from
   :class:`~relays_websocket.WebSockets` or a controller's ``upgrade``) is
   ``websocket.accept``, with its subprotocol and extra fields; any other answer,
   a refusal included, is ``websocket.close`` (the client sees a 403).
2. The switch's handler gets the bridge as its connection, as relays-http gives it
   a socket. What it writes are server frames: the bridge's protocol reads them and
   each message becomes a ``websocket.send``, a close frame ``websocket.close``.
   Each ``websocket.receive`` is framed (masked, as a client sends) and fed to the
   handler; ``websocket.disconnect`` is the peer's close frame with its code, then
   the connection lost. So the relays WebSocket, its ``read``/``write`` events and
   its sessions are the same objects the native server gives.
3. ``send`` is async and a connection's ``write`` is not: messages wait in a queue
   that one task drains into ``send``. The queue is bounded by
   :data:`SEND_QUEUE_MESSAGES`: past it the bridge says it is not writable and its
   ``drain`` waits, which is the backpressure relays-websocket already honours.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Mapping
from typing import Any

from relays.transports import Connection
from relays_http import Request, SwitchProtocols
from relays_websocket import CloseReceived, ProtocolError, WebSocketLimits, WebSocketProtocol

from ._shape import Receive, Send

__all__ = ["SEND_QUEUE_MESSAGES", "MessageBridge", "handshake_headers", "serve_switch"]

logger = logging.getLogger("relays.asgi")

#: Messages of the relays WebSocket that may wait for the ASGI server's ``send``
#: before the bridge applies backpressure (``drain`` waits).
SEND_QUEUE_MESSAGES = 64

#: Handshake fields the ASGI server writes itself in its ``101``.
_HANDSHAKE_FIELDS = frozenset(
    (
        b"connection",
        b"upgrade",
        b"sec-websocket-accept",
        b"sec-websocket-protocol",
        b"sec-websocket-extensions",
    )
)


def handshake_headers(scope: Mapping[str, Any]) -> list[tuple[bytes, bytes]]:
    """The handshake's fields for the relays request, without the extension offers."""
    return [
        (bytes(name).lower(), bytes(value))
        for name, value in scope["headers"]
        if bytes(name).lower() != b"sec-websocket-extensions"
    ]


class MessageBridge(Connection):
    """The relays WebSocket's connection: frames in, ASGI messages out (see above)."""

    def __init__(self, send: Send, limits: WebSocketLimits) -> None:
        self._send = send
        # Our side reads what the server side of relays-websocket writes: a client.
        self.peer = WebSocketProtocol(is_client=True, limits=limits)
        self._messages: deque[dict[str, Any]] = deque()
        self._ready = asyncio.Event()  # something queued, or closed
        self._room = asyncio.Event()  # the queue is below its bound
        self._room.set()
        self._closed = False
        self._lost = False
        self.handler: Any = None

    # -- the Connection relays-websocket writes to ---------------------------------

    def write(self, data: bytes) -> None:
        if self._closed or not data:
            return
        try:
            events = self.peer.receive_data(data)
        except ProtocolError as error:  # our own side's frames: a bug, not a peer
            logger.error("relays-websocket wrote frames the bridge cannot read: %s", error)
            events = list(error.events)
            self._queue({"type": "websocket.close", "code": 1011})
            self._closed = True
        for event in events:
            if isinstance(event, str):
                self._queue({"type": "websocket.send", "text": event})
            elif isinstance(event, bytes):
                self._queue({"type": "websocket.send", "bytes": event})
            elif isinstance(event, CloseReceived):
                code = event.code if event.code != 1005 else 1000
                self._queue({"type": "websocket.close", "code": code, "reason": event.reason})
                self._closed = True
        answer = self.peer.data_to_send()  # a pong for a ping, the close's echo
        if answer:
            # Not from inside the socket's own write: on the next loop turn.
            asyncio.get_running_loop().call_soon(self._feed, answer)

    def _feed(self, data: bytes) -> None:
        if not self._lost:
            self.handler.data_received(data)

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._queue({"type": "websocket.close", "code": 1000})
        self._ready.set()

    @property
    def closing(self) -> bool:
        return self._closed

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return default

    @property
    def writable(self) -> bool:
        """Whether the queue of messages for ``send`` has room."""
        return len(self._messages) < SEND_QUEUE_MESSAGES

    async def drain(self) -> None:
        """Wait until the messages queued for the ASGI server are below the bound."""
        while not self.writable and not self._closed:
            self._room.clear()
            await self._room.wait()

    def _queue(self, message: dict[str, Any]) -> None:
        self._messages.append(message)
        self._ready.set()

    # -- the ASGI side ---------------------------------------------------------------

    async def pump(self) -> None:
        """Hand queued messages to the ASGI server's ``send``, until the close went."""
        while True:
            while self._messages:
                message = self._messages.popleft()
                if self.writable:
                    self._room.set()
                await self._send(message)
                if message["type"] == "websocket.close":
                    return
            if self._closed:
                return
            self._ready.clear()
            await self._ready.wait()

    def received(self, message: dict[str, Any]) -> None:
        """A ``websocket.receive``: framed as the client sent it, fed to the socket."""
        if self._closed:
            return
        text = message.get("text")
        data = self.peer.send(text if text is not None else message.get("bytes") or b"")
        self._feed(data)

    def disconnected(self, code: int) -> None:
        """The client went (``websocket.disconnect``): its close frame, then the end."""
        if not self._closed:
            self._closed = True
            valid = 1000 <= code <= 4999 and code not in (1005, 1006)
            self._feed(self.peer.close(code if valid else 1000))
        self.lost()

    def lost(self) -> None:
        """The conversation is over: the socket hears the connection is gone, once."""
        self._closed = True
        self._ready.set()
        self._room.set()
        if not self._lost:
            self._lost = True
            self.handler.connection_lost(None)


async def serve_switch(
    switch: SwitchProtocols, request: Request, receive: Receive, send: Send
) -> None:
    """Accept the WebSocket *switch* answered, then bridge it until either side ends."""
    subprotocol = None
    fields: list[tuple[bytes, bytes]] = []
    for raw_name, raw_value in switch.headers:
        name = raw_name.encode("latin-1") if isinstance(raw_name, str) else bytes(raw_name)
        value = raw_value.encode("latin-1") if isinstance(raw_value, str) else bytes(raw_value)
        if name.lower() == b"sec-websocket-protocol":
            subprotocol = value.decode("latin-1")
        elif name.lower() not in _HANDSHAKE_FIELDS:
            fields.append((name, value))
    await send({"type": "websocket.accept", "subprotocol": subprotocol, "headers": fields})
    # Frames and messages are bounded by the relays WebSocket's own limits on its side;
    # ours reads what it writes, so no message of its can be too large for us.
    bridge = MessageBridge(send, WebSocketLimits(max_message=2**62, max_frame=2**62))
    bridge.handler = switch.handler
    switch.handler.connection_made(bridge, b"")
    pump = asyncio.ensure_future(bridge.pump())
    try:
        while not pump.done():
            receiving = asyncio.ensure_future(receive())
            await asyncio.wait((receiving, pump), return_when=asyncio.FIRST_COMPLETED)
            if not receiving.done():
                receiving.cancel()
                break  # the relays side closed: its close went out
            message = receiving.result()
            if message["type"] == "websocket.receive":
                bridge.received(message)
            elif message["type"] == "websocket.disconnect":
                bridge.disconnected(int(message.get("code", 1005)))
                break
    finally:
        if not pump.done():
            await asyncio.wait((pump,), timeout=1.0)
            pump.cancel()
        bridge.lost()
