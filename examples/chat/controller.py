#!/usr/bin/env python3
"""A WebSocket opened from a controller page, after the page's own checks.

``GET /live?token=...`` becomes a WebSocket only with a known token; anything else is
an ordinary HTTP answer (403). Each message is answered with the user's name. Usage::

    python examples/chat/controller.py [port]
"""

from __future__ import annotations

import sys
from typing import Any

from relays import Component
from relays_http import Controller, Forbidden, Server
from relays_websocket import WebSocket, WebSockets

#: Tokens the app handed out at login, and whose they are.
TOKENS = {"s3cret": "ann"}


class Pages(Controller):
    channel = "/"

    def __init__(self, websockets: WebSockets) -> None:
        super().__init__()
        self.websockets = websockets

    def live(self, token: str = "") -> Any:
        if token not in TOKENS:
            raise Forbidden("log in first")
        self.request.context["user"] = TOKENS[token]
        return self.websockets.upgrade(self.request)


class Greeter(Component):
    channel = "ws"

    def read(self, sock: WebSocket, message: str | bytes) -> str:
        return f"{sock.request.context['user']} said {message!r}"


def make_app(host: str = "127.0.0.1", port: int = 8000) -> Server:
    websockets = WebSockets(None)  # no path of its own: opened by Pages.live
    return Server((host, port)) + websockets + Pages(websockets) + Greeter()


if __name__ == "__main__":
    make_app(port=int(sys.argv[1]) if len(sys.argv) > 1 else 8000).run()
