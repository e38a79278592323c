#!/usr/bin/env python3
"""The relays client the Autobahn TestSuite's fuzzing server tests (.ci/autobahn.sh).

Asks the fuzzing server how many cases there are, runs each one (echoing every
message back until the server closes), then asks it to write its reports.
Usage: python echo_client.py ws://127.0.0.1:PORT
"""

from __future__ import annotations

import asyncio
import sys

from relays_websocket import WebSocketError, connect

AGENT = "relays"
LARGEST = 20 * 1024 * 1024
#: The fuzzing server builds some cases' messages (4 MiB in 64-byte fragments) before it
#: answers the handshake, and writes every report of its shard before it answers the
#: ``updateReports`` one: on a busy machine either takes longer than connect()'s 10 s
#: default (a CI run lost a whole shard's reports that way).
HANDSHAKE_TIMEOUT = 120.0


async def run_case(base: str, number: int) -> None:
    url = f"{base}/runCase?case={number}&agent={AGENT}"
    try:
        async with connect(
            url, max_message=LARGEST, max_frame=LARGEST, timeout=HANDSHAKE_TIMEOUT
        ) as ws:
            async for message in ws:
                await ws.send(message)
    except (WebSocketError, OSError) as error:
        print(f"case {number}: {type(error).__name__}: {error}", file=sys.stderr)


async def main(base: str) -> None:
    async with connect(f"{base}/getCaseCount", timeout=HANDSHAKE_TIMEOUT) as ws:
        count = int(await ws.receive())
    print(f"{count} cases", file=sys.stderr)
    for number in range(1, count + 1):
        await run_case(base, number)
    async with connect(f"{base}/updateReports?agent={AGENT}", timeout=HANDSHAKE_TIMEOUT) as ws:
        async for _ in ws:
            pass


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
