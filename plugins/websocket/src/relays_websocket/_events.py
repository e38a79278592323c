"""The events of a WebSocket endpoint, in circuits' vocabulary, on the endpoint's channel.

Notifications: ``connect(sock)`` a handshake completed, ``read(sock, message)`` a whole
message arrived (``str`` for text, ``bytes`` for binary; what a handler returns is sent
back), ``disconnect(sock)`` the connection is gone (``sock.close_code`` says how).
Commands: ``write(sock, message)``, ``close(sock, code=1000, reason="")`` and
``broadcast(message, group=None, exclude=None)``, which sends one message to every
socket of the endpoint, or of one group (:meth:`WebSocket.join`).
"""

from __future__ import annotations

from relays import Event

__all__ = ["Broadcast", "Close", "Connect", "Disconnect", "Read", "Unreachable", "Write"]


class Connect(Event):
    """``connect(sock)``: a WebSocket is open."""


class Read(Event):
    """``read(sock, message)``: one whole message; a ``str`` or ``bytes`` returned is sent back."""


class Write(Event):
    """``write(sock, message)``: send a message (``str`` as text, ``bytes`` as binary)."""


class Close(Event):
    """``close(sock, code=1000, reason="")``: start the close handshake."""


class Disconnect(Event):
    """``disconnect(sock)``: the connection ended; ``sock.close_code`` says how."""


class Broadcast(Event):
    """``broadcast(message, group=None, exclude=None)``: one message to many sockets."""


class Unreachable(Event):
    """Client: ``unreachable(url, error)`` no WebSocket could be opened (refused, no 101)."""
