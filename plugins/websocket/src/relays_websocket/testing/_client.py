"""The in-memory WebSocket client: our client-side protocol core on a MemoryClient."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Sequence

from relays.testing import MemoryClient, MemoryTransport

from .._errors import ConnectionClosed, InvalidHandshake
from .._handshake import ClientHandshake, parse_response_head
from .._protocol import CloseReceived, Ping, WebSocketProtocol

__all__ = ["WebSocketTestClient"]


class WebSocketTestClient:
    """A WebSocket client on an in-memory connection to *transport*'s HTTP server.

    ``await client.open("/ws")`` does the handshake (raising
    :class:`~relays_websocket.InvalidHandshake` with the server's status when it is
    refused); then :meth:`send`, :meth:`receive` and :meth:`close`. Frames are masked
    and parsed by the same core as the real client, without compression so that
    what crosses the connection stays readable in a failing test.
    """

    def __init__(self, transport: MemoryTransport, *, timeout: float = 5.0) -> None:
        #: The :class:`relays.testing.MemoryClient` underneath.
        self.connection: MemoryClient = transport.connect()
        self.timeout = timeout
        self.protocol = WebSocketProtocol(is_client=True)
        #: The close frame the server sent, once it did.
        self.close_received: CloseReceived | None = None
        #: Pings the server sent (each answered with a pong when read).
        self.pings_received = 0
        self._messages: deque[str | bytes] = deque()
        self._opened = False

    async def open(
        self,
        path: str = "/ws",
        *,
        headers: Sequence[tuple[str, str]] = (),
        subprotocols: Sequence[str] = (),
    ) -> str | None:
        """Do the handshake on *path*; return the subprotocol the server picked."""
        handshake = ClientHandshake(
            "test", path, subprotocols=subprotocols, compression=False, extra_headers=headers
        )
        self.connection.send(handshake.request())
        received = await self.connection.wait(lambda data: b"\r\n\r\n" in data, self.timeout)
        head, _, rest = received.partition(b"\r\n\r\n")
        self.connection.take()
        status, header = parse_response_head(head)
        if status != 101:
            raise InvalidHandshake(f"the server answered {status}", status)
        subprotocol, _ = handshake.verify(status, header)
        self._opened = True
        if rest:
            self._absorb(rest)
        return subprotocol

    def send(self, message: str | bytes) -> None:
        """Send one message (as one masked frame)."""
        self.connection.send(self.protocol.send(message))

    def send_raw(self, data: bytes) -> None:
        """Send bytes as they are (hand-made frames, broken ones)."""
        self.connection.send(data)

    def _absorb(self, data: bytes) -> None:
        for event in self.protocol.receive_data(data):
            if isinstance(event, str | bytes):
                self._messages.append(event)
            elif isinstance(event, CloseReceived):
                self.close_received = event
            elif isinstance(event, Ping):
                self.pings_received += 1
        answer = self.protocol.data_to_send()
        if answer and not self.connection.closed:
            self.connection.send(answer)

    async def poll(self) -> None:
        """Wait for the next bytes from the server and read them (answering its pings);
        messages are kept for :meth:`receive`."""
        await self._more()

    async def _more(self) -> None:
        data = await self.connection.wait(None, self.timeout)
        self.connection.take()
        if data:
            self._absorb(data)
        elif self.connection.closed:
            raise ConnectionClosed(
                self.close_received.code if self.close_received else 1006,
                self.close_received.reason if self.close_received else "",
            )

    async def receive(self) -> str | bytes:
        """The next message from the server; :class:`ConnectionClosed` after its close."""
        while not self._messages:
            if self.close_received is not None:
                raise ConnectionClosed(self.close_received.code, self.close_received.reason)
            await self._more()
        return self._messages.popleft()

    async def close(self, code: int = 1000, reason: str = "") -> CloseReceived:
        """Start the close handshake and return the server's close frame."""
        self.connection.send(self.protocol.close(code, reason))
        return await self.wait_closed()

    async def wait_closed(self) -> CloseReceived:
        """Wait for the server's close frame (messages before it are kept)."""
        async with asyncio.timeout(self.timeout):
            while self.close_received is None:
                try:
                    await self._more()
                except ConnectionClosed:
                    break
        if self.close_received is None:
            raise ConnectionClosed(1006, "the server dropped the connection without closing")
        return self.close_received
