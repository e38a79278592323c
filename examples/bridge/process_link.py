"""A subtree in a child process, linked to its parent over a pipe: no broker needed.

python process_link.py      # the child's price, then an order taken in the child
"""

from __future__ import annotations

import asyncio
import os

from relays import Component, Event, handler
from relays_bridge import spawn


class PriceAsked(Event):
    """price_asked(item) -> the price of *item*, computed in the child."""

    def __init__(self, item: str) -> None:
        super().__init__(item)


class OrderPlaced(Event):
    """order_placed(item): fired in the parent, runs in both processes."""


class OrderTaken(Event):
    """order_taken(item, pid): the child's answer, fired back to the parent."""


class Kitchen(Component):
    """The subtree the child runs: the child imports this module and calls the class."""

    channel = "prices"

    def price_asked(self, item: str) -> float:
        return {"tea": 2.5, "cake": 4.0}[item]  # a KeyError travels back as one

    @handler("order_placed", channel="orders")
    def take(self, item: str) -> None:
        self.fire(OrderTaken(item, os.getpid()), "orders")


class Counter(Component):
    """The parent's side."""

    channel = "orders"

    def __init__(self) -> None:
        super().__init__()
        self.taken: asyncio.Future[tuple[str, int]] = asyncio.Future()

    def order_taken(self, item: str, pid: int) -> None:
        self.taken.set_result((item, pid))


async def main() -> None:
    counter = Counter()
    link = spawn(
        Kitchen,
        link=counter,
        requests=["prices"],  # runs in the child; its value comes back
        channels=["orders"],  # runs on both sides, fired from either
        events=[PriceAsked, OrderPlaced, OrderTaken],
    )
    async with counter:
        await link.wait_connected(timeout=30)  # the child's tree is running
        print("tea costs", await counter.call(PriceAsked("tea"), "prices"))
        counter.fire(OrderPlaced("cake"), "orders")
        item, pid = await asyncio.wait_for(counter.taken, timeout=30)
        print(f"{item} taken by process {pid}, a child of {os.getpid()}: {pid != os.getpid()}")


if __name__ == "__main__":
    asyncio.run(main())
