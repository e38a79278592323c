"""A worker process for the fault tests: it takes one work item from ``jobs`` and
never finishes it, so the test can kill it mid-handler.

    python stuck_worker.py URL NAMESPACE
"""

from __future__ import annotations

import asyncio
import sys

from relays import Component, Event
from relays_bridge import Bridge


class JobQueued(Event):
    """job_queued(number)"""


class Worker(Component):
    channel = "jobs"

    async def job_queued(self, number: int) -> None:
        print(f"took {number}", flush=True)
        await asyncio.Event().wait()  # stuck until killed


class Root(Component):
    channel = "app"


async def main(url: str, namespace: str) -> None:
    bridge = Bridge(url, work=["jobs"], events=[JobQueued], namespace=namespace, claim_after=0.5)
    async with Root() + Worker() + bridge:
        await bridge.wait_connected(10)
        print("ready", flush=True)
        await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2]))
