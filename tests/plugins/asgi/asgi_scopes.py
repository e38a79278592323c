"""ASGI scopes as an ASGI server hands them to an app, for the tests that play the server."""

from __future__ import annotations

from typing import Any

__all__ = ["http_scope", "websocket_scope"]


def http_scope(method: str, path: str, query: bytes = b"", headers: Any = ()) -> dict[str, Any]:
    """The ``http`` scope of ``method path?query`` from 127.0.0.1:5000 to port 8000."""
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": query,
        "root_path": "",
        "headers": [(b"host", b"test"), *headers],
        "client": ("127.0.0.1", 5000),
        "server": ("127.0.0.1", 8000),
    }


def websocket_scope(path: str) -> dict[str, Any]:
    """The ``websocket`` scope of an opening handshake for *path*, offering ``chat``."""
    scope = http_scope("GET", path)
    del scope["method"]
    scope["type"] = "websocket"
    scope["scheme"] = "ws"
    scope["subprotocols"] = ["chat"]
    scope["headers"] += [
        (b"upgrade", b"websocket"),
        (b"connection", b"Upgrade"),
        (b"sec-websocket-key", b"dGhlIHNhbXBsZSBub25jZQ=="),
        (b"sec-websocket-version", b"13"),
        (b"sec-websocket-protocol", b"chat"),
        (b"sec-websocket-extensions", b"permessage-deflate"),  # the server's, not ours
    ]
    return scope
