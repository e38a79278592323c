"""The exceptions of relays-websocket, split by whose fault they are (as h11 does).

A :class:`ProtocolError` is the peer's fault: it carries the close code (1002, 1007,
1009) the connection answers with, so whoever catches it knows what to send.
:class:`InvalidHandshake` is a refused opening handshake, with the HTTP status that
says why. :class:`ConnectionClosed` is what the async API raises once the
connection is gone; :class:`LocalProtocolError` is a misuse of the API by our own
code (sending after close, a reason too long for a close frame).
"""

from __future__ import annotations

__all__ = [
    "ConnectionClosed",
    "InvalidHandshake",
    "LocalProtocolError",
    "MessageTooLarge",
    "ProtocolError",
    "WebSocketError",
]


class WebSocketError(Exception):
    """Base class of every error relays-websocket raises."""


class ProtocolError(WebSocketError):
    """The peer broke RFC 6455; ``code`` is the close code to answer with.

    1002 for a malformed frame or a frame out of place, 1007 for text that is not
    UTF-8, 1009 for a frame or message over the configured limits. ``events`` holds
    what the same bytes completed before the bad frame (deliver those first).
    """

    def __init__(self, message: str, code: int = 1002) -> None:
        super().__init__(message)
        self.code = code
        self.events: list[object] = []


class MessageTooLarge(ProtocolError):
    """A frame or message is over ``max_frame`` / ``max_message`` (close code 1009).

    Raise the limit in :class:`WebSocketLimits` if the peer is right to send it.
    """

    def __init__(self, message: str) -> None:
        super().__init__(message, 1009)


class LocalProtocolError(WebSocketError):
    """Our side misused the connection (sending after close, a bad close code)."""


class InvalidHandshake(WebSocketError):
    """The opening handshake was refused; ``status`` is the HTTP status to answer."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


class ConnectionClosed(WebSocketError):
    """The connection is closed: ``code`` and ``reason`` are those of the close frame.

    Code 1006 means it ended without a close frame (the peer vanished).
    """

    def __init__(self, code: int, reason: str = "") -> None:
        super().__init__(f"WebSocket connection closed: {code} {reason}".rstrip())
        self.code = code
        self.reason = reason
