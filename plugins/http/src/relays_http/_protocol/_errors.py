"""Exceptions of the protocol core, split by whose fault the problem is.

A :class:`RemoteProtocolError` means the peer sent bytes we refuse; it carries the
status code the server should answer with, so the I/O glue never has to map
messages to codes. A :class:`LocalProtocolError` means the application (or the
glue) misused the API; it is a bug on our side of the socket and must never be
reported to the client in detail.
"""

from __future__ import annotations

__all__ = ["LocalProtocolError", "ProtocolError", "RemoteProtocolError"]


class ProtocolError(Exception):
    """Base class of every error the protocol core raises.

    ``reason`` is a short human sentence, safe to show to a client: it never
    echoes the peer's bytes back, so an error page cannot be used to reflect
    attacker-controlled content.
    """

    status_code: int
    reason: str

    def __init__(self, reason: str, *, status_code: int) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status_code = status_code

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.reason!r}, status_code={self.status_code})"


class RemoteProtocolError(ProtocolError):
    """The client broke HTTP/1.1; answer with ``status_code`` and close.

    Once raised by :meth:`Connection.next_event`, the connection's
    ``their_state`` is ``ERROR`` and it cannot be used for another request.

    ``request_line`` is what was understood of the request when its head was
    refused: ``b"GET /x HTTP/1.1"`` (method, target and version, re-joined) when
    the request line had arrived whole and was valid, so a log can say which
    request broke a rule further down the head (a missing Host, a field too large,
    a bad Content-Length); None otherwise, and for errors in a body.
    """

    request_line: bytes | None

    def __init__(self, reason: str, *, status_code: int = 400) -> None:
        super().__init__(reason, status_code=status_code)
        self.request_line = None


class LocalProtocolError(ProtocolError):
    """The application asked for something HTTP/1.1 forbids (a bug, not the client's).

    Examples: sending two responses, body bytes after the end of the message, or
    a header value containing CR/LF (which would allow response splitting).
    """

    def __init__(self, reason: str, *, status_code: int = 500) -> None:
        super().__init__(reason, status_code=status_code)
