"""relays-jsonrpc: JSON-RPC 2.0 for relays, over HTTP and over any stream transport.

A call of method ``add`` becomes the event ``add`` fired on the RPC channel
(``"rpc"``), and what its handlers return is the result, so any component can
serve methods, with plain or ``async def`` handlers. :class:`JSONRPC` serves
them at a path of a relays-http server; :class:`JSONRPCLines` (the ``jsonrpc``
protocol) over a raw connection, one JSON document per line.
"""

from relays_http.rpc import MethodCall

from ._core import JSONRPCLimits, Processor
from ._dispatcher import JSONRPC
from ._errors import (
    INTERNAL_ERROR,
    INVALID_PARAMS,
    INVALID_REQUEST,
    METHOD_NOT_FOUND,
    PARSE_ERROR,
    SERVER_ERROR,
    InvalidParams,
    JSONRPCError,
)
from ._lines import JSONRPCLines

__all__ = [
    "INTERNAL_ERROR",
    "INVALID_PARAMS",
    "INVALID_REQUEST",
    "JSONRPC",
    "METHOD_NOT_FOUND",
    "PARSE_ERROR",
    "SERVER_ERROR",
    "InvalidParams",
    "JSONRPCError",
    "JSONRPCLimits",
    "JSONRPCLines",
    "MethodCall",
    "Processor",
]
