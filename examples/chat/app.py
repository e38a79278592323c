#!/usr/bin/env python3
"""A browser chat: a static page and a WebSocket endpoint, served by relays.

Open http://localhost:8000/ in two browser tabs, pick a name in each, and talk. Every
message reaches everyone in the room as one ``broadcast`` event. Usage::

    python examples/chat/app.py [port]
"""

from __future__ import annotations

import sys
from pathlib import Path

from relays import Component
from relays_http import Request, Server
from relays_static import Static
from relays_websocket import Broadcast, WebSocket, WebSockets

HERE = Path(__file__).resolve().parent
#: Names are short and plain: they are shown to every other user.
LONGEST_NAME = 20


def chosen_name(request: Request) -> str | None:
    """The ``?name=`` of the WebSocket URL, if it is a name we accept."""
    name = request.query.get("name", "").strip()
    return name if 0 < len(name) <= LONGEST_NAME and name.isprintable() else None


def authorize(request: Request) -> bool:
    """Refuse the handshake (403) without a usable name: checked before the 101."""
    return chosen_name(request) is not None


class Chat(Component):
    """The room: who is in it, and every line said in it, passed on to everyone."""

    channel = "ws"

    def __init__(self, endpoint: WebSockets) -> None:
        super().__init__()
        self.endpoint = endpoint
        self.names: dict[WebSocket, str] = {}

    def connect(self, sock: WebSocket) -> None:
        name = chosen_name(sock.request) or "anonymous"
        self.names[sock] = name
        self.endpoint.join(sock, "room")
        self.fire(Broadcast(f"* {name} joined", "room"))

    def read(self, sock: WebSocket, message: str | bytes) -> None:
        if isinstance(message, str):
            self.fire(Broadcast(f"{self.names[sock]}: {message}", "room"))

    def disconnect(self, sock: WebSocket) -> None:
        name = self.names.pop(sock, None)
        if name is not None:
            self.fire(Broadcast(f"* {name} left", "room"))


def make_app(host: str = "127.0.0.1", port: int = 8000) -> Server:
    """The whole app: the page at ``/``, the WebSocket at ``/chat``."""
    server = Server((host, port))
    endpoint = WebSockets("/chat", authorize=authorize, max_message=4096)
    server += Static("/", docroot=str(HERE / "static"))
    server += endpoint
    server += Chat(endpoint)
    return server


if __name__ == "__main__":
    make_app(port=int(sys.argv[1]) if len(sys.argv) > 1 else 8000).run()
