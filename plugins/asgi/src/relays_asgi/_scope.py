"""The ASGI ``http`` scope of a relays-http request.

``path`` is the whole decoded path the request is routed by, mount prefix included,
and ``root_path`` is the mount prefix: the reading of the spec that Starlette (and so
FastAPI) and Django follow, where an app strips ``root_path`` from ``path`` to route.
``raw_path`` is the path as the client sent it (percent-encoded), so the app can tell
``%2F`` from ``/``.
"""

from __future__ import annotations

from typing import Any

from relays_http import Request

__all__ = [
    "ASGI_VERSION",
    "HTTP_SPEC_VERSION",
    "address",
    "http_scope",
    "lifespan_scope",
    "websocket_scope",
]

#: What the ``asgi`` key of every scope says.
ASGI_VERSION = "3.0"
#: The version of the ASGI HTTP spec the scope follows (2.4: ``state``).
HTTP_SPEC_VERSION = "2.4"


def address(address: Any) -> list[Any] | None:
    """An IP socket address as ASGI's ``[host, port]``; a UNIX path as ``[path, None]``."""
    if isinstance(address, tuple) and len(address) >= 2:
        return [str(address[0]), int(address[1])]
    if isinstance(address, str) and address:
        return [address, None]
    return None


def http_scope(
    request: Request,
    root_path: str,
    *,
    state: dict[str, Any] | None = None,
    extensions: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The ``http`` scope of *request*, for an app mounted at *root_path* (``""``: ``/``)."""
    scope: dict[str, Any] = {
        "type": "http",
        "asgi": {"version": ASGI_VERSION, "spec_version": HTTP_SPEC_VERSION},
        "http_version": request.http_version,
        "method": request.method.upper(),
        "scheme": request.scheme,
        "path": request.path,
        "raw_path": request.raw_path.encode("latin-1"),
        "query_string": request.query_string.encode("latin-1"),
        "root_path": root_path,
        "headers": request.raw_headers,
        "client": address(request.remote),
        "server": address(request.local),
        "extensions": extensions if extensions is not None else {},
    }
    if state is not None:
        # A shallow copy per request (the spec's wording): what the app stored at
        # startup is shared, what a request adds stays in that request.
        scope["state"] = dict(state)
    return scope


def websocket_scope(
    request: Request,
    root_path: str,
    *,
    subprotocols: list[str],
    state: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The ``websocket`` scope of the opening handshake *request*."""
    scope = http_scope(request, root_path, state=state)
    del scope["method"]
    scope["type"] = "websocket"
    scope["scheme"] = "wss" if request.scheme == "https" else "ws"
    scope["subprotocols"] = subprotocols
    return scope


def lifespan_scope(state: dict[str, Any]) -> dict[str, Any]:
    """The ``lifespan`` scope; *state* is the dict the app fills at startup."""
    return {
        "type": "lifespan",
        "asgi": {"version": ASGI_VERSION, "spec_version": "2.0"},
        "state": state,
    }
