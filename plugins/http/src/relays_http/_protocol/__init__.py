"""Sans-IO HTTP/1.1 server protocol core: bytes in, events out; events in, bytes out.

Private to ``relays_http``: the server component drives it; applications see
the events only through that component. See ``docs/reference/http-protocol.rst``.
"""

from ._connection import Connection
from ._errors import LocalProtocolError, ProtocolError, RemoteProtocolError
from ._events import (
    NEED_DATA,
    PAUSED,
    ConnectionClosed,
    Data,
    EndOfMessage,
    Event,
    Headers,
    HeadersInput,
    InformationalResponse,
    Request,
    Response,
    Signal,
)
from ._limits import Limits
from ._state import State
from ._writers import render_error_response

__all__ = [
    "NEED_DATA",
    "PAUSED",
    "Connection",
    "ConnectionClosed",
    "Data",
    "EndOfMessage",
    "Event",
    "Headers",
    "HeadersInput",
    "InformationalResponse",
    "Limits",
    "LocalProtocolError",
    "ProtocolError",
    "RemoteProtocolError",
    "Request",
    "Response",
    "Signal",
    "State",
    "render_error_response",
]
