"""What the live inspector costs the app, measured next to the bare app in the same run.

Run from the repository root, after ``python3 dev.py test`` has made ``.venv``::

    .venv/bin/python benchmarks/inspector.py [--quick] [--repeat K] [--scale X] [--cpu]

Two questions, from issue #23:

* **Mounted, no page open.** Events per second of ``events.py``'s ``drain`` row (N events
  fired at one handler, then drained) on the bare tree, and on the same tree with an
  :class:`~relays_inspector.Inspector` registered: the target is a loss under 2%. With no
  page open the inspector's event listener is not in the tree, so the two trees dispatch
  through the same handlers; the row shows it. A third line, *page open*, has one stream
  subscribed (its listener records every event into a bounded buffer that a consumer empties
  every 0.1 s), for the price of watching.
* **Page open under a flood.** 10,000 events per second for a few seconds (fired in slices
  of 100 from a loop callback every 10 ms), handled by the app, with a real page open: a
  server-sent-events client on loopback reading ``/_relays/events``. The app must keep pace
  (events handled per second, and how late the firing callbacks ran, against the bare run
  of the same flood), while the page gets a sample and a dropped count, not everything.

Each figure is the best of ``--repeat`` runs on a fresh tree after a warm-up, the sides
taking turns, so load on a shared machine only ever makes a side look slower. Pin it to one
CPU for steadier figures: ``taskset -c 1 .venv/bin/python benchmarks/inspector.py``.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import statistics
import time
from collections.abc import Callable
from typing import Any

# The benchmark's own loops hold the loop on purpose: no blocked-loop warning for them.
os.environ.setdefault("RELAYS_BLOCKED_LOOP_MS", "0")

# Before the path is cleaned: benchmarks/ is where these two live.
import _harness
from events import Counter, Ping  # the drain row's tree is events.py's

_harness.unshadow_standard_library()

from relays import BaseComponent  # noqa: E402
from relays_http import Server  # noqa: E402
from relays_http.client import Session  # noqa: E402
from relays_inspector import Inspector, StreamLimits  # noqa: E402
from relays_inspector._stream import Subscription  # noqa: E402

clock: Callable[[], float] = time.perf_counter


# -- mounted, no page open: the drain row ----------------------------------------------------


async def drain(n: int, mode: str) -> float:
    """Seconds to fire and handle *n* events on a tree with the inspector as *mode* says."""
    finished = asyncio.Event()
    app: BaseComponent = Counter(n, finished.set)
    if mode != "bare":
        inspector = Inspector(announce=False)
        app += inspector
    async with app:
        consumer = None
        if mode == "page open":
            subscription = Subscription(StreamLimits())
            inspector.tap.subscribe(subscription, inspector)

            async def read() -> None:
                async for _ in subscription.batches():
                    pass

            consumer = asyncio.ensure_future(read())
        gc.collect()
        start = clock()
        for i in range(n):
            app.fire(Ping(i))
        await finished.wait()
        elapsed = clock() - start
        if consumer is not None:
            consumer.cancel()
            await asyncio.gather(consumer, return_exceptions=True)
    return elapsed


def drain_rows(n: int, repeat: int) -> dict[str, float]:
    modes = ("bare", "mounted", "page open")
    for mode in modes:
        asyncio.run(drain(n // 10, mode))  # warm-up
    outcomes = _harness.rounds(repeat, modes, lambda _round, mode: asyncio.run(drain(n, mode)))
    return {mode: n / min(seconds) for mode, seconds in outcomes.items()}


# -- page open under a flood -------------------------------------------------------------------


async def flood(rate: int, seconds: float, page: bool) -> dict[str, Any]:
    """Fire *rate* events/s for *seconds* at an app with the inspector; a page reads if *page*."""
    slice_size, tick = rate // 100, 0.01
    total = int(rate * seconds) // slice_size * slice_size
    finished = asyncio.Event()
    counter = Counter(total, finished.set)
    inspector = Inspector(announce=False, graphviz=False)
    server = Server("tcp://127.0.0.1:0") + counter + inspector
    received = {"events": 0, "dropped": 0, "messages": 0}
    lateness: list[float] = []
    async with server, Session() as session:
        await server.wait_ready()
        reader = None
        if page:
            assert inspector.url is not None
            opened = await session.get(inspector.url)
            assert opened.status == 200, opened.status
            connected = asyncio.Event()

            async def read() -> None:
                events = inspector.url.split("?")[0] + "events"  # type: ignore[union-attr]
                async with session.stream("GET", events) as stream:
                    buffer = b""
                    async for chunk in stream.iter_bytes():
                        buffer += chunk
                        while b"\n\n" in buffer:
                            block, buffer = buffer.split(b"\n\n", 1)
                            for line in block.split(b"\n"):
                                if line.startswith(b"data: "):
                                    batch = json.loads(line[6:])
                                    received["events"] += len(batch["events"])
                                    received["dropped"] = batch["dropped"]
                                    received["messages"] += 1
                                    connected.set()

            reader = asyncio.ensure_future(read())
            await connected.wait()
        loop = asyncio.get_running_loop()
        start = time.perf_counter()  # wall clock always: the flood is paced in real time
        due = loop.time()
        fired = 0
        while fired < total:
            due += tick
            await asyncio.sleep(max(0.0, due - loop.time()))
            lateness.append(loop.time() - due)
            for _ in range(slice_size):
                server.fire(Ping(fired), "*")
                fired += 1
        await finished.wait()
        elapsed = time.perf_counter() - start
        if reader is not None:
            await asyncio.sleep(0.3)  # the last batches, for the counts shown
            reader.cancel()
            await asyncio.gather(reader, return_exceptions=True)
    return {
        "handled/s": counter.count / elapsed,
        "late p50 ms": statistics.median(lateness) * 1000,
        "late max ms": max(lateness) * 1000,
        **received,
        "fired": total,
    }


def main() -> None:
    global clock
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a smoke run, small N")
    parser.add_argument("--repeat", type=int, default=5, help="best of K runs (5)")
    parser.add_argument("--scale", type=float, default=1.0, help="multiply N")
    parser.add_argument("--cpu", action="store_true", help="time with process CPU time")
    parser.add_argument("--seconds", type=float, default=3.0, help="flood length (3 s)")
    options = parser.parse_args()
    if options.cpu:
        clock = time.process_time
    n = int((20_000 if options.quick else 200_000) * options.scale)
    repeat = 1 if options.quick else options.repeat
    seconds = 1.0 if options.quick else options.seconds

    rows = drain_rows(n, repeat)
    bare = rows["bare"]
    print(f"drain, {n:,} events, best of {repeat} ({'CPU' if options.cpu else 'wall'} clock)")
    print(f"  {'tree':<28}{'events/s':>12}{'vs bare':>10}{'target':>10}")
    for mode, rate in rows.items():
        ratio = rate / bare
        target = {"mounted": "> 0.98x"}.get(mode, "")
        verdict = ("PASS" if ratio > 0.98 else "MISS") if target else ""
        label = {
            "bare": "bare app",
            "mounted": "inspector, no page",
            "page open": "inspector, a stream open",
        }[mode]
        print(f"  {label:<28}{rate:>12,.0f}{ratio:>9.3f}x{target:>10} {verdict}")

    rate = 10_000
    print(f"\nflood: {rate:,} events/s for {seconds:g} s, fired in slices every 10 ms")
    header = f"  {'':<22}{'handled/s':>11}{'late p50':>10}{'late max':>10}"
    print(header + f"{'to page':>9}{'dropped':>9}{'messages':>10}")
    for page in (False, True):
        figures = flood(rate, seconds, page)
        result = asyncio.run(figures)
        label = "inspector, page open" if page else "inspector, no page"
        line = (
            f"  {label:<22}{result['handled/s']:>11,.0f}{result['late p50 ms']:>8.2f}ms"
            f"{result['late max ms']:>8.1f}ms"
        )
        if page:
            line += f"{result['events']:>9,}{result['dropped']:>9,}{result['messages']:>10,}"
        print(line)


if __name__ == "__main__":
    main()
