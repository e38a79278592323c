"""relays-websocket: WebSocket server and client (RFC 6455, permessage-deflate RFC 7692).

The protocol core is sans-IO (:class:`WebSocketProtocol`); the server rides on
relays-http's protocol upgrade, the client on relays-sockets' TCP/TLS client. See
``docs/howto/websocket.rst``.
"""

from ._deflate import DeflateParameters
from ._errors import (
    ConnectionClosed,
    InvalidHandshake,
    LocalProtocolError,
    MessageTooLarge,
    ProtocolError,
    WebSocketError,
)
from ._handshake import ClientHandshake, ServerAnswer, accept_key, answer_request, new_client_key
from ._limits import WebSocketLimits
from ._masking import apply_mask
from ._protocol import CloseReceived, Ping, Pong, State, WebSocketProtocol

__all__ = [
    "ClientHandshake",
    "CloseReceived",
    "ConnectionClosed",
    "DeflateParameters",
    "InvalidHandshake",
    "LocalProtocolError",
    "MessageTooLarge",
    "Ping",
    "Pong",
    "ProtocolError",
    "ServerAnswer",
    "State",
    "WebSocketError",
    "WebSocketLimits",
    "WebSocketProtocol",
    "accept_key",
    "answer_request",
    "apply_mask",
    "new_client_key",
]
