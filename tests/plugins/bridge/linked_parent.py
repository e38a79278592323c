"""A parent process for the process link tests: links a Kitchen in a child, prints the
child's pid once linked, and runs until killed."""

from __future__ import annotations

import asyncio

from linked_shop import EVENTS, Kitchen

from relays import Component
from relays_bridge import spawn


class Root(Component):
    channel = "app"


async def main() -> None:
    root = Root()
    link = spawn(Kitchen, link=root, channels=["orders"], events=EVENTS)
    async with root:
        await link.wait_connected(30)
        print(link.pid, flush=True)
        await asyncio.Event().wait()  # until killed


if __name__ == "__main__":
    asyncio.run(main())
