"""The exceptions relays-asgi raises, split by whose fault they are."""

from __future__ import annotations

__all__ = ["AsgiProtocolError", "ClientDisconnected", "LifespanFailed", "NotAnAsgiApp"]


class AsgiProtocolError(RuntimeError):
    """The application broke the ASGI protocol (raised inside its ``send``).

    A second ``http.response.start``, a message after the response was complete, a
    message of the wrong type or with fields of the wrong type. The message says which
    rule was broken and what the app should send instead.
    """


class ClientDisconnected(OSError):
    """``send`` was called after the client went away (the ASGI spec asks for an OSError).

    Applications usually let it end the request; frameworks catch ``OSError`` for this.
    """


class LifespanFailed(RuntimeError):
    """The application refused to start (``lifespan.startup.failed``), or failed to.

    :attr:`message` is what the application said; the server stops with it.
    """

    def __init__(self, message: str) -> None:
        super().__init__(message)
        #: The application's own message (``lifespan.startup.failed``'s ``message``).
        self.message = message


class NotAnAsgiApp(TypeError):
    """The object given to :class:`~relays_asgi.Asgi` does not have an ASGI app's shape."""
