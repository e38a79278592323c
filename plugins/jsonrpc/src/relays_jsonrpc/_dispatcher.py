"""The JSON-RPC dispatcher: JSON-RPC 2.0 over HTTP, at one path of a relays-http server.

It handles ``request`` events at priority 20, above relays-http's own
``Dispatcher`` (10) and plain handlers (0), and returns ``None`` at once for other
paths, so it costs other requests one string comparison. For its path it stops
the event and answers: ``POST`` with a JSON body only (else 405 or 415), status
200 with the response document, or 204 when there is nothing to return (only
notifications). The calls themselves run in a handler task of their own (an
internal event fired at this component), whose value the request's follows.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from relays import BaseComponent, Event, handler
from relays_http import (
    MethodNotAllowed,
    PayloadTooLarge,
    Request,
    Response,
    UnsupportedMediaType,
)
from relays_http.rpc import RPCMethods

from ._core import JSONRPCLimits, Processor

__all__ = ["JSONRPC"]

F = TypeVar("F", bound=Callable[..., Any])

#: Media types a JSON-RPC body may have: JSON, and the older JSON-RPC-over-HTTP names.
JSON_TYPES = frozenset({"application/json", "application/json-rpc", "application/jsonrequest"})


class _Answer(Event):
    """Internal: answer one JSON-RPC HTTP request (fired at the dispatcher itself)."""

    name = "jsonrpc_http_answer"


class JSONRPC(BaseComponent):
    """Serve JSON-RPC 2.0 at *path* of the HTTP server whose channel is *channel*.

    ``Server(...) + JSONRPC("/rpc") + Calculator()``: a call of method ``add`` fires
    the event ``add`` on *rpc_channel* (``"rpc"``), and the handlers' return value
    is the result; or serve a plain function with :meth:`register_function`. Errors
    carry no details (tracebacks, messages) unless *debug* is on.
    """

    channel = "web"

    def __init__(
        self,
        path: str = "/jsonrpc",
        *,
        channel: Any = "web",
        rpc_channel: Any = "rpc",
        limits: JSONRPCLimits | None = None,
        debug: bool = False,
    ) -> None:
        super().__init__(channel=channel)
        if not path.startswith("/"):
            raise ValueError(f"the path must start with '/': {path!r}")
        #: The path served (exact match).
        self.path = path
        #: The channel method events are fired on.
        self.rpc_channel = rpc_channel
        self.limits = limits or JSONRPCLimits()
        self.methods = RPCMethods(self, rpc_channel)
        self.processor = Processor(self.methods, limits=self.limits, debug=debug)

    def register_function(self, function: F | None = None, *, name: str | None = None) -> Any:
        """Serve *function* as method *name* (default: its ``__name__``).

        Works as a decorator too: ``@rpc.register_function`` or
        ``@rpc.register_function(name="math.add")``. Returns the function.
        """
        if function is None:
            return lambda f: self.register_function(f, name=name)
        self.methods.register(function, name)
        return function

    @handler("registered", "unregistered", channel="*")
    def _on_tree_changed(self, component: BaseComponent, parent: BaseComponent) -> None:
        self.methods.forget()

    @handler("request", priority=20)
    def _on_request(self, event: Event, request: Request, response: Response) -> Any:
        if request.path != self.path:
            return None
        event.stop()
        if request.method != "POST":
            return MethodNotAllowed(["POST"], "JSON-RPC requests are POSTed")
        if request.content_type not in JSON_TYPES:
            return UnsupportedMediaType("a JSON-RPC request has Content-Type application/json")
        if request.content_length > self.limits.max_request_size:
            return PayloadTooLarge(
                f"a JSON-RPC request is at most {self.limits.max_request_size} bytes"
            )
        return self.fire(_Answer(request, response), self)

    @handler("jsonrpc_http_answer")
    async def _on_answer(self, request: Request, response: Response) -> Response:
        body = await self.processor.handle(await request.read(), request)
        if body is None:
            return Response(status=204)
        return Response(body, content_type="application/json")
