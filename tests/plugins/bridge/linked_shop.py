"""The subtree the process link tests run in a child process (imported there by name:
the child gets the parent's sys.path, where pytest put this folder)."""

from __future__ import annotations

import os

from relays import Component, Event, handler
from relays_bridge import rebuildable


class OrderPlaced(Event):
    """order_placed(order_id): fired in the parent, runs in both processes."""


class OrderTaken(Event):
    """order_taken(order_id, pid): the child's answer, fired back on the same channel."""


class PriceAsked(Event):
    """price_asked(item) -> the price, from the child."""


class ChildExits(Event):
    """child_exits(code): the child ends itself at once, mid-request."""


EVENTS = [OrderPlaced, OrderTaken, PriceAsked, ChildExits]


@rebuildable  # so that Kitchen(greeting=...).start(process=True, ...) can be rebuilt
class Kitchen(Component):
    """Takes orders and prices items, in whichever process it runs."""

    channel = "orders"

    def __init__(self, greeting: str = "") -> None:
        super().__init__()
        self.greeting = greeting

    def order_placed(self, order_id: int) -> None:
        self.fire(OrderTaken(order_id, os.getpid()), "orders")

    @handler("price_asked", channel="prices")
    def price(self, item: str) -> object:
        if item == "pid":
            return os.getpid()
        if item == "greeting":
            return self.greeting
        return {"tea": 2.5, "cake": 4.0}[item]

    @handler("child_exits", channel="prices")
    def exit_now(self, code: int) -> None:
        os._exit(code)


class Pantry(Component):
    """Prices on its own channel, the one ``start(process=True)`` links by default;
    its constructor takes no arguments, so it needs no marking to be rebuilt."""

    channel = "pantry"

    def price_asked(self, item: str) -> object:
        return os.getpid() if item == "pid" else {"jam": 3.0}[item]
