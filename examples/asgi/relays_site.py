"""A relays tree served by an ASGI server: ``uvicorn relays_site:app``.

hypercorn (``hypercorn relays_site:app``) and granian (``granian --interface asgi
relays_site:app``) serve it the same way. The tree starts with the server's
``lifespan`` startup and stops with its shutdown.
"""

import os
from collections.abc import Iterator

from relays import Component, handler
from relays_asgi import application
from relays_http import Controller, Dispatcher
from relays_sessions import Sessions, session_of
from relays_websocket import WebSocket, WebSockets
from relays_xmlrpc import XMLRPC


class Root(Controller):
    def index(self) -> str:
        return "Hello from relays, under an ASGI server"

    def hello(self, name: str = "you") -> dict[str, str]:
        return {"greeting": f"Hello, {name}!"}

    def count(self) -> Iterator[str]:
        return (f"{number}\n" for number in range(5))

    def visits(self) -> str:
        session = session_of(self.request)
        session["visits"] = session.get("visits", 0) + 1
        return f"visit number {session['visits']}"


class Calculator(Component):
    channel = "rpc"

    @handler("math.add")
    def add(self, a: int, b: int) -> int:
        return a + b


class Echo(Component):
    """Answers each WebSocket message with itself (the native server's API, unchanged)."""

    channel = "ws"

    def read(self, sock: WebSocket, message: str | bytes) -> str | bytes:
        return message


# Without SESSION_SECRET a random secret is made: sessions end when the server stops.
secret = os.environ.get("SESSION_SECRET")
tree = Component() + Sessions(secret=secret) + XMLRPC("/RPC2") + Calculator()
tree += WebSockets("/echo", subprotocols=["echo"]) + Echo()
tree += Dispatcher() + Root()
app = application(tree)
