"""Test helpers of relays-websocket: an in-memory WebSocket client for app tests.

:class:`WebSocketTestClient` opens a WebSocket to a relays-http server running on
:class:`relays.testing.MemoryTransport`: no sockets, no threads, every byte it
exchanges visible. :mod:`relays_websocket.testing.strategies` has hypothesis
strategies for the frame core.
"""

from ._client import WebSocketTestClient

__all__ = ["WebSocketTestClient"]
