"""Requests per second through the Dispatcher, next to a plain ``request`` handler.

Run from the repository root::

    .venv/bin/python -P benchmarks/http_dispatch.py [--requests 20000] [--repeat 3]

(``-P``: ``benchmarks/http.py`` would otherwise shadow the standard ``http`` package.)

Each row sends N pipelined ``GET`` requests over the in-memory transport (no sockets,
so the figure is the server plus dispatch, not the kernel's network code) and waits for
the last response:

* ``plain``: a ``Component`` whose ``request`` handler returns a string;
* ``page``: a ``Controller`` page, called directly by the dispatcher;
* ``page+args``: a page with a path segment and a query field, converted to ``int``;
* ``async page``: an ``async def`` page, run by a ``controller_call`` event;
* ``event page``: a plain page run through the ``controller_call`` event like an async
  one: what firing an event per request (circuits.web's way) costs.

The figure is the best of ``--repeat`` runs.

``--instructions`` counts machine instructions per request instead, under valgrind
(see ``instructions.py``), for the ``plain`` row and for ``plain close`` (each request
on a new in-memory connection, with ``Connection: close``): counts that the machine's
load does not move, to compare two versions of relays-http on a shared machine. Run it
with another checkout's interpreter to measure that checkout (the script only imports
``relays`` and ``relays_http``)::

    .venv/bin/python -P benchmarks/http_dispatch.py --instructions
    ../base/.venv/bin/python -P benchmarks/http_dispatch.py --instructions
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from typing import Any

from relays import Component
from relays.testing import MemoryTransport
from relays_http import BaseServer, Controller, Dispatcher, Request, Response
from relays_http._controllers import _Call


class Plain(Component):
    channel = "web"

    def request(self, request: Request, response: Response) -> str:
        return "hello"


class Pages(Controller):
    def index(self) -> str:
        return "hello"

    def item(self, ident: int, size: int = 0) -> str:
        return "hello"

    async def later(self) -> str:
        return "hello"


class EventDispatcher(Dispatcher):
    """Runs every page through the event, as circuits.web did."""

    def _on_request(self, event: Any, request: Request, response: Response) -> Any:
        found = self.resolve(request.raw_path)
        assert found is not None
        controller, segments = found
        page, segments = controller.find(request.method, segments)
        event.stop()
        return controller.fire(_Call(page, request, response, segments), controller)


async def measure(app: list[Any], target: str, count: int) -> float:
    transport = MemoryTransport(channel="web")
    server = BaseServer(transport=transport)
    for component in app:
        server += component
    request = f"GET {target} HTTP/1.1\r\nHost: bench\r\n\r\n".encode()
    async with server:
        client = transport.connect()
        client.send(request)  # warm up caches; every response has the same length
        size = len(await client.wait(lambda data: data.endswith(b"hello")))
        client.take()
        total = size * count
        started = time.perf_counter()
        client.send(request * count)
        await client.wait(lambda data: len(data) >= total, timeout=120)
        elapsed = time.perf_counter() - started
    return count / elapsed


#: Requests sent at once while counting instructions: the in-memory client copies what
#: it received on every check, so the batch bounds that copy.
COUNT_BATCH = 100


async def run_count(row: str, count: int) -> None:
    """Serve *count* requests of *row* and return (what ``--instructions`` counts)."""
    transport = MemoryTransport(channel="web")
    server = BaseServer(transport=transport) + Plain()
    if row == "plain close":
        request = b"GET / HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n"
        async with server:
            for _ in range(count):
                client = transport.connect()
                client.send(request)
                await client.wait(lambda data: False, timeout=60)  # until it closes
        return
    request = b"GET / HTTP/1.1\r\nHost: bench\r\n\r\n"
    async with server:
        client = transport.connect()
        client.send(request)
        size = len(await client.wait(lambda data: data.endswith(b"hello")))
        client.take()
        for start in range(0, count, COUNT_BATCH):
            batch = min(COUNT_BATCH, count - start)
            client.send(request * batch)
            await client.wait(lambda data: len(data) >= size * batch, timeout=60)  # noqa: B023
            client.take()


def count_instructions() -> None:
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import instructions

    if not instructions.available():
        sys.exit("valgrind is not installed: apt-get install valgrind")
    for row in ("plain", "plain close"):
        script = [sys.executable, "-P", os.path.abspath(__file__), "--count", row]
        per_request = instructions.per_item(script, 1000, 5000)
        print(f"{row:12} {per_request:10,.0f} instructions/request")


ROWS = {
    "plain": (lambda: [Plain()], "/"),
    "page": (lambda: [Dispatcher(), Pages()], "/"),
    "page+args": (lambda: [Dispatcher(), Pages()], "/item/42?size=3"),
    "async page": (lambda: [Dispatcher(), Pages()], "/later"),
    "event page": (lambda: [EventDispatcher(), Pages()], "/"),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=20000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--instructions", action="store_true", help="count instructions per request (valgrind)"
    )
    parser.add_argument("--count", nargs=2, help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.count:
        row, count = options.count
        asyncio.run(run_count(row, int(count)))
        return
    if options.instructions:
        count_instructions()
        return
    for name, (make, target) in ROWS.items():
        best = max(
            asyncio.run(measure(make(), target, options.requests)) for _ in range(options.repeat)
        )
        print(f"{name:12} {best:10,.0f} requests/s")


if __name__ == "__main__":
    main()
