"""An HTTP/1.1 client on the same protocol core as relays' server.

``async with Session() as session: response = await session.get(url)``, or the
:class:`Client` component, which answers ``request`` events with ``response`` events. See the
how-to "Fetch URLs with the HTTP client" and the reference page for the details.
"""

from .._protocol._client import ResponseLimits
from ._component import Client, ClientRequest, ClientResponse, RequestFailed
from ._errors import (
    ClientError,
    ConnectError,
    ConnectTimeout,
    DecodingError,
    HTTPStatusError,
    InvalidURL,
    PoolTimeout,
    ProxyError,
    ReadTimeout,
    RemoteProtocolError,
    ResponseTooLarge,
    ServerDisconnected,
    Timeout,
    TLSError,
    TooManyRedirects,
    TotalTimeout,
    WriteTimeout,
)
from ._pool import PoolLimits
from ._response import Headers, Response, ResponseNotRead
from ._session import Session, Timeouts

__all__ = [
    "Client",
    "ClientError",
    "ClientRequest",
    "ClientResponse",
    "ConnectError",
    "ConnectTimeout",
    "DecodingError",
    "HTTPStatusError",
    "Headers",
    "InvalidURL",
    "PoolLimits",
    "PoolTimeout",
    "ProxyError",
    "ReadTimeout",
    "RemoteProtocolError",
    "RequestFailed",
    "Response",
    "ResponseLimits",
    "ResponseNotRead",
    "ResponseTooLarge",
    "ServerDisconnected",
    "Session",
    "TLSError",
    "Timeout",
    "Timeouts",
    "TooManyRedirects",
    "TotalTimeout",
    "WriteTimeout",
]
