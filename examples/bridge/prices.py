"""Two processes, one bridge: a price server and a client that asks it.

python prices.py serve redis://127.0.0.1:6379/0        # in one terminal (or nats://...)
python prices.py ask redis://127.0.0.1:6379/0 tea      # in another: prints 2.5
"""

from __future__ import annotations

import asyncio
import contextlib
import sys

from relays import Component, Event
from relays_bridge import Bridge, EventRegistry

# Every process of the bridge registers the same classes: only these may cross.
events = EventRegistry()


@events.register(version=1)
class PriceAsked(Event):
    """price_asked(item) -> the price of *item*."""

    def __init__(self, item: str) -> None:
        super().__init__(item)


class Prices(Component):
    """Answers ``price_asked`` on the ``prices`` channel, in the serving process."""

    channel = "prices"

    def price_asked(self, item: str) -> float:
        return {"tea": 2.5, "cake": 4.0}[item]  # a KeyError travels back as one


class App(Component):
    channel = "app"


async def serve(url: str) -> None:
    bridge = Bridge(url, requests=["prices"], events=events)
    async with App() + Prices() + bridge:
        await bridge.wait_connected(timeout=10)
        print("serving prices", flush=True)
        await asyncio.Event().wait()  # until Ctrl+C


async def ask(url: str, item: str) -> None:
    bridge = Bridge(url, requests=["prices"], events=events, reply_timeout=5)
    async with App() + bridge as app:
        await bridge.wait_connected(timeout=10)
        price = await app.call(PriceAsked(item), "prices")
        print(price)


if __name__ == "__main__":
    command, url, *rest = sys.argv[1:]
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(url) if command == "serve" else ask(url, *rest))
