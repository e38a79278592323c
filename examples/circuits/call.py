"""Calling an event and using its result, in circuits' generator style.

A handler that ``yield``\\ s ``self.call(event)`` resumes once that event's handlers
have all finished, with the event's :class:`~relays.Value`: ``.result`` is what they
returned, ``.errors`` whether one raised. Here ``started`` asks a ``Store`` for two
prices, adds them up, and stops. Try::

    python examples/circuits/call.py
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any, ClassVar

from relays import Component, Event


class Price(Event):
    """``price(item)``: what *item* costs, in cents."""


class Store(Component):
    channel = "store"

    PRICES: ClassVar[dict[str, int]] = {"bread": 250, "milk": 120}

    def price(self, item: str) -> int:
        return self.PRICES[item]


class Shopper(Component):
    def __init__(self) -> None:
        super().__init__()
        Store().register(self)

    def started(self, component: Component) -> Generator[Any, Any, None]:
        total = 0
        for item in ("bread", "milk"):
            price = yield self.call(Price(item), "store")
            print(f"{item}: {price.result} cents")
            total += price.result
        # A failing handler does not raise here: its value says so, as in circuits.
        missing = yield self.call(Price("caviar"), "store")
        print(f"caviar: {'not sold' if missing.errors else missing.result}")
        print(f"total: {total} cents")
        self.stop()

    def exception(self, *args: Any, **kwargs: Any) -> None:
        """Store.price raising KeyError for caviar is expected here: nothing to report."""


if __name__ == "__main__":
    Shopper().run()
