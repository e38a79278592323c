#!/usr/bin/env python3
"""A terminal client of the chat that reconnects, with back-off, when the server goes away.

Prints what the room says; every line typed on stdin is said in the room. Usage::

    python examples/chat/client.py ws://localhost:8000/chat?name=ann
"""

from __future__ import annotations

import asyncio
import random
import sys
from collections.abc import Awaitable, Callable

from relays_websocket import WebSocket, WebSocketError, connect

#: The first retry waits about this long; each failure doubles it, up to LONGEST_WAIT.
FIRST_WAIT = 0.5
LONGEST_WAIT = 30.0


def back_off(failures: int) -> float:
    """Seconds to wait after *failures* failed attempts in a row: doubling, capped, and
    jittered, so that clients dropped together do not all come back in the same instant."""
    ceiling = min(LONGEST_WAIT, FIRST_WAIT * 2**failures)
    return random.uniform(ceiling / 2, ceiling)


async def stay_connected(
    url: str,
    talk: Callable[[WebSocket], Awaitable[None]],
    *,
    attempts: int | None = None,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> None:
    """Run ``talk(ws)`` on a connection to *url*, reconnecting after every loss.

    A connection that was open resets the back-off; one that could not be opened
    waits longer each time. *attempts* bounds the connections tried (None: forever).
    """
    failures = 0
    tried = 0
    while attempts is None or tried < attempts:
        tried += 1
        try:
            async with connect(url) as ws:
                failures = 0
                await talk(ws)
        except (OSError, WebSocketError) as error:
            print(f"* {error}", file=sys.stderr)
            failures += 1
        await sleep(back_off(failures))


async def terminal(ws: WebSocket) -> None:
    """Print the room; say what is typed."""

    async def typed() -> None:
        loop = asyncio.get_running_loop()
        while line := await loop.run_in_executor(None, sys.stdin.readline):
            await ws.send(line.rstrip("\n"))
        ws.close()

    typing = asyncio.create_task(typed())
    try:
        async for message in ws:
            print(message)
    finally:
        typing.cancel()


if __name__ == "__main__":
    asyncio.run(stay_connected(sys.argv[1], terminal))
