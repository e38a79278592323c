"""circuits' Bridge shape: ``component.start(process=True, link=parent)``.

python start_process.py     # the price from the child, then the child stopped
"""

from __future__ import annotations

import asyncio
import os

from relays import Component, Event


class PriceAsked(Event):
    """price_asked(item) -> the price of *item*, computed in the child."""


class Kitchen(Component):
    """Runs in the child, which imports this module and calls ``Kitchen()``: a class
    whose constructor takes arguments is marked ``@relays_bridge.rebuildable``."""

    channel = "prices"

    def price_asked(self, item: str) -> dict[str, object]:
        return {"item": item, "price": {"tea": 2.5}[item], "pid": os.getpid()}


class App(Component):
    channel = "app"


async def main() -> None:
    app = App()
    kitchen = Kitchen()
    # The link carries the kitchen's channel ("prices") both ways; only the event
    # classes listed may cross. `kitchen` stays here as the child's proxy.
    link = kitchen.start(process=True, link=app, events=[PriceAsked])
    async with app:
        await link.wait_connected(timeout=30)  # the child's tree is running
        answer = await kitchen.call(PriceAsked("tea"), timeout=30)
        print(f"tea costs {answer['price']}, said process {answer['pid']}")
        print("that is a child of this one:", answer["pid"] != os.getpid())
        kitchen.stop()  # the child stops; `kitchen` is a plain component again
        print("the kitchen is back in this process:", kitchen.parent is None)


if __name__ == "__main__":
    asyncio.run(main())
