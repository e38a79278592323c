"""relays-websocket: WebSocket server and client (RFC 6455, permessage-deflate RFC 7692).

The protocol core is sans-IO (:class:`WebSocketProtocol`); the server rides on
relays-http's protocol upgrade, the client on relays-sockets' TCP/TLS client. See
``docs/howto/websocket.rst``.
"""

from ._client import WebSocketClient, connect
from ._deflate import DeflateParameters
from ._endpoint import Session, WebSocketEndpoint
from ._errors import (
    ConnectionClosed,
    InvalidHandshake,
    LocalProtocolError,
    MessageTooLarge,
    ProtocolError,
    WebSocketError,
)
from ._events import Broadcast, Close, Connect, Disconnect, Read, Unreachable, Write
from ._handshake import ClientHandshake, ServerAnswer, accept_key, answer_request, new_client_key
from ._limits import WebSocketLimits
from ._masking import apply_mask
from ._protocol import CloseReceived, Ping, Pong, State, WebSocketProtocol
from ._server import OriginPolicy, WebSockets
from ._websocket import WebSocket

__all__ = [
    "Broadcast",
    "ClientHandshake",
    "Close",
    "CloseReceived",
    "Connect",
    "ConnectionClosed",
    "DeflateParameters",
    "Disconnect",
    "InvalidHandshake",
    "LocalProtocolError",
    "MessageTooLarge",
    "OriginPolicy",
    "Ping",
    "Pong",
    "ProtocolError",
    "Read",
    "ServerAnswer",
    "Session",
    "State",
    "Unreachable",
    "WebSocket",
    "WebSocketClient",
    "WebSocketEndpoint",
    "WebSocketError",
    "WebSocketLimits",
    "WebSocketProtocol",
    "WebSockets",
    "Write",
    "accept_key",
    "answer_request",
    "apply_mask",
    "connect",
    "new_client_key",
]
