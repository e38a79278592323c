"""The exceptions of the HTTP client, named after what went wrong and whose fault it is.

Every one derives from :class:`ClientError`, so ``except ClientError`` catches anything
the client raises on purpose; the timeouts also derive from the built-in
``TimeoutError``. Messages name the host (and the limit or timeout concerned) and say
what to try, since a traceback is often all a user of a tool built on this sees.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ._response import Response

__all__ = [
    "ClientError",
    "ConnectError",
    "ConnectTimeout",
    "DecodingError",
    "HTTPStatusError",
    "InvalidURL",
    "PoolTimeout",
    "ProxyError",
    "ReadTimeout",
    "RemoteProtocolError",
    "ResponseTooLarge",
    "ServerDisconnected",
    "TLSError",
    "Timeout",
    "TooManyRedirects",
    "TotalTimeout",
    "WriteTimeout",
]


class ClientError(Exception):
    """Base class of every error the HTTP client raises."""


class InvalidURL(ClientError, ValueError):
    """The URL cannot be requested: no http/https scheme, no host, a bad port."""


class ConnectError(ClientError):
    """No connection could be made to the host (refused, unreachable, unknown name)."""


class ProxyError(ConnectError):
    """The proxy refused to carry the request (CONNECT not allowed, bad credentials...)."""


class TLSError(ConnectError):
    """The TLS handshake with the host failed (certificate not trusted, wrong name...)."""


class Timeout(ClientError, TimeoutError):
    """One of the client's timeouts expired; the subclass says which."""


class ConnectTimeout(Timeout):
    """Connecting (TCP and TLS handshake) took longer than ``Timeouts.connect``."""


class ReadTimeout(Timeout):
    """The server sent nothing for ``Timeouts.read`` seconds."""


class WriteTimeout(Timeout):
    """The server did not take our bytes for ``Timeouts.write`` seconds."""


class PoolTimeout(Timeout):
    """No connection became free within ``Timeouts.pool`` seconds (the pool is full)."""


class TotalTimeout(Timeout):
    """The whole request, redirects included, took longer than ``Timeouts.total``."""


class RemoteProtocolError(ClientError):
    """The server broke HTTP/1.1 (a malformed response, bad chunking, a body cut short).

    The connection it came on is closed, never reused.
    """


class ResponseTooLarge(RemoteProtocolError):
    """The response went over one of the :class:`ResponseLimits`."""


class ServerDisconnected(RemoteProtocolError):
    """The server closed the connection before any byte of the response.

    Idempotent requests on a reused connection are retried once before this is raised.
    """


class DecodingError(RemoteProtocolError):
    """The body could not be decompressed as its ``Content-Encoding`` said."""


class TooManyRedirects(ClientError):
    """More redirects than ``max_redirects`` in a row."""


class HTTPStatusError(ClientError):
    """Raised by :meth:`Response.raise_for_status` for a 4xx or 5xx response."""

    def __init__(self, message: str, *, response: Response) -> None:
        super().__init__(message)
        #: The response whose status was an error.
        self.response = response
