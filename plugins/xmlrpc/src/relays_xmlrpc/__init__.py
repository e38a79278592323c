"""relays-xmlrpc: XML-RPC for relays, on circuits.web's model.

A call of method ``math.add`` becomes the event ``math.add`` fired on the RPC
channel (``"rpc"``), and what its handlers return is the result, so any
component can serve methods, with plain or ``async def`` handlers.
:class:`XMLRPC` serves them at a path of a relays-http server, with faults,
introspection, ``system.multicall``, gzip and safe XML parsing.
"""

from relays_http.rpc import MethodCall

from ._codec import (
    APPLICATION_ERROR,
    INTERNAL_ERROR,
    INVALID_PARAMS,
    INVALID_REQUEST,
    METHOD_NOT_FOUND,
    NOT_WELL_FORMED,
    SYSTEM_ERROR,
    Fault,
)
from ._dispatcher import XMLRPC, XMLRPCLimits

__all__ = [
    "APPLICATION_ERROR",
    "INTERNAL_ERROR",
    "INVALID_PARAMS",
    "INVALID_REQUEST",
    "METHOD_NOT_FOUND",
    "NOT_WELL_FORMED",
    "SYSTEM_ERROR",
    "XMLRPC",
    "Fault",
    "MethodCall",
    "XMLRPCLimits",
]
