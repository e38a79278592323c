"""The JSON-RPC dispatcher: JSON-RPC 2.0 over HTTP, at one path of a relays-http server.

How a request for its path is claimed and checked (``POST`` only, a JSON body, its
size) is relays-http's :class:`relays_http.rpc.RPCEndpoint`, shared with
relays-xmlrpc. What is JSON-RPC's own: the media types, and the answer, status 200
with the response document, or 204 when there is nothing to return (only
notifications).
"""

from __future__ import annotations

from typing import Any

from relays_http import Request, Response
from relays_http.rpc import RPCEndpoint

from ._core import JSONRPCLimits, Processor

__all__ = ["JSONRPC"]


class JSONRPC(RPCEndpoint):
    """Serve JSON-RPC 2.0 at *path* of the HTTP server whose channel is *channel*.

    ``Server(...) + JSONRPC("/rpc") + Calculator()``: a call of method ``add`` fires
    the event ``add`` on *rpc_channel* (``"rpc"``), and the handlers' return value
    is the result; or serve a plain function with :meth:`register_function`. Errors
    carry no details (tracebacks, messages) unless *debug* is on.
    """

    protocol = "JSON-RPC"
    #: JSON, and the older JSON-RPC-over-HTTP names.
    media_types = ("application/json", "application/json-rpc", "application/jsonrequest")

    def __init__(
        self,
        path: str = "/jsonrpc",
        *,
        channel: Any = "web",
        rpc_channel: Any = "rpc",
        limits: JSONRPCLimits | None = None,
        debug: bool = False,
    ) -> None:
        super().__init__(path, channel=channel, rpc_channel=rpc_channel)
        self.limits = limits or JSONRPCLimits()
        self.processor = Processor(self.methods, limits=self.limits, debug=debug)

    @property
    def max_request_size(self) -> int:
        """The limits' ``max_request_size``."""
        return self.limits.max_request_size

    async def answer(self, request: Request) -> Response:
        """The response document, or 204 when the body held only notifications."""
        body = await self.processor.handle(await request.read(), request)
        if body is None:
            return Response(status=204)
        return Response(body, content_type="application/json")
