"""A shop served by several ``relays serve`` processes on several machines.

Sessions are shared through Redis (``--session-store``), orders through NATS: a
``POST /order`` fires ``order_placed`` on the ``orders`` work channel, and exactly one
process, on any machine, runs :class:`Fulfilment` for it.

    SHOP_EVENTS=nats://10.0.0.5:4222 relays serve shop:app --bind tcp://0.0.0.0:8000 \\
        --session-store redis://10.0.0.5:6379/0 --session-secret "$SECRET"
"""

from __future__ import annotations

import os

from relays import Component, Event
from relays_bridge import Bridge


class OrderPlaced(Event):
    """order_placed(customer, item): one order, to fulfil once."""

    def __init__(self, customer: str, item: str) -> None:
        super().__init__(customer, item)


class Shop(Component):
    """Takes orders over HTTP (relays-http's ``request`` on the ``web`` channel)."""

    channel = "web"

    def request(self, request: object, response: object) -> str:
        path = getattr(request, "path", "/")
        if path == "/order":
            self.fire(OrderPlaced("ada", "tea"), "orders")
            return "ordered\n"
        return "hello\n"


class Fulfilment(Component):
    """Runs once per order, in whichever process NATS hands it to."""

    channel = "orders"

    def order_placed(self, customer: str, item: str) -> None:
        print(f"{os.getpid()}: sending {item} to {customer}", flush=True)


def app() -> Component:
    """The tree ``relays serve shop:app`` runs: the shop, fulfilment and the bridge."""
    url = os.environ.get("SHOP_EVENTS", "nats://127.0.0.1:4222")
    bridge = Bridge(url, work=["orders"], events=[OrderPlaced], group="shop")
    return Shop() + Fulfilment() + bridge
