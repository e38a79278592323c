"""See your app think: a small web app with the live inspector mounted at /_relays/.

A greeting page, a ``Kitchen`` that cooks an order every second (one in five burns:
a handler error, shown with its traceback in the inspector's stream) and the
:class:`~relays_inspector.Inspector`. Run it with ``python examples/inspector/app.py``
and open the link it prints on stderr.
"""

from __future__ import annotations

from relays import Component, Event, Timer
from relays_http import Controller, Server
from relays_inspector import Inspector


class Order(Event):
    """An order for the kitchen: fired by the timer, once a second."""


class Cooked(Event):
    """A dish is ready."""


class Root(Controller):
    def index(self, name: str = "world") -> str:
        return f"Hello, {name}! The inspector is at /_relays/ (open the link printed at start)."


class Kitchen(Component):
    channel = "kitchen"

    def __init__(self) -> None:
        super().__init__()
        self.orders = 0
        Timer(1.0, Order(), "kitchen", persist=True).register(self)

    def order(self) -> None:
        self.orders += 1
        if self.orders % 5 == 0:
            raise RuntimeError(f"order {self.orders} burnt: the oven was too hot")
        self.fire(Cooked(f"soup #{self.orders}"))

    def cooked(self, dish: str) -> str:
        return f"{dish} is served"


def make_app(port: int = 8000) -> Server:
    """The server, the app and the inspector (loopback only, a token printed at start)."""
    return Server(f"tcp://127.0.0.1:{port}") + Root() + Kitchen() + Inspector()


if __name__ == "__main__":
    make_app().run()
