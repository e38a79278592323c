#!/usr/bin/env python3
"""Events across two processes: relays-bridge over Redis and over NATS next to circuits.

Two processes on loopback, a server and a client, each pinned to its own CPU
(``taskset``); the brokers (``redis-server``, ``nats-server``) share the server's CPU.
Two measurements per system, in the same run:

- events/s: the client fires N events the server handles (no reply each); the clock
  stops when the server says it has handled all N.
- round trips: the client calls M times in a row and waits for each result; the table
  gives calls/s and the 99th percentile of one call, in milliseconds.

relays-bridge: a ``Bridge`` with a broadcast channel for the events and a request
channel for the calls. circuits 3.2.5: ``circuits.node`` (its own TCP protocol, no
broker), ``remote(event, peer)`` for the events and ``yield self.call(remote(...))``
for the calls. The process rows link a parent to a child process over a pipe, no broker:
relays-bridge's ``spawn(..., link=parent)`` against circuits' own ``Bridge``
(``start(process=True, link=parent)``, ``ipc(event)``); the parent runs on the client's
CPU and the child pins itself to the server's. relays' ``start(process=True,
link=parent)`` makes the same link as ``spawn`` (measured: the same figures within the
noise between rounds), so it has no row of its own. One function runs a round from
either side: :func:`relays_round` and :func:`circuits_round`. Each figure is the best
of ``--rounds`` runs; the ratio is relays' figure over circuits' (for p99, circuits'
over relays': above 1 means relays is faster); the process rows compare with
circuits-process.

Usage (see benchmarks/README.md)::

    apt-get install redis-server nats-server
    .venv/bin/pip install circuits==3.2.5 'relays-bridge[redis,nats,msgpack]'
    .venv/bin/python benchmarks/bridge.py [--events 5000] [--calls 100] [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Generator, Iterator
from contextlib import contextmanager
from typing import Any

import _harness

SYSTEMS = ("relays-redis", "relays-nats", "circuits", "relays-process", "circuits-process")
#: The systems that need no server process: the client starts its own child.
CHILD_SYSTEMS = ("relays-process", "circuits-process")
#: Seconds a circuits peer's round may take. circuits' Bridge now and then loses the
#: event of a ``call`` and then waits for it for ever (seen in about one run in six of
#: ``circuits-process``): such a round is reported as unfinished, not waited on.
PEER_TIMEOUT = 60.0
#: relays must reach this ratio to circuits for events/s and calls/s.
TARGET = 2.0
SERVER_CPU, CLIENT_CPU = _harness.server_and_client_cpus()
#: Calls made before the clock starts, so both ends have connected and warmed up.
WARM_UP = 5


# -- relays-bridge --------------------------------------------------------------------


def _relays_classes() -> tuple[Any, ...]:
    from relays import Event

    class Beat(Event):
        """beat(number, total)"""

    class Ask(Event):
        """ask(number) -> number"""

    class Finished(Event):
        """finished(total)"""

    return Beat, Ask, Finished


def serve_relays(url: str) -> None:
    import asyncio

    from relays import Component
    from relays_bridge import Bridge

    beat, ask, finished = _relays_classes()

    class Server(Component):
        channel = "bench"

        def __init__(self) -> None:
            super().__init__()
            self.count = 0

        def beat(self, number: int, total: int) -> None:
            self.count += 1
            if self.count == total:
                self.count = 0
                self.fire(finished(total), "done")

    class Answers(Component):
        channel = "ask"

        def ask(self, number: int) -> int:
            return number

    async def main() -> None:
        bridge = Bridge(
            url, channels=["bench", "done"], requests=["ask"], events=[beat, ask, finished],
            max_buffered=1_000_000,
        )  # fmt: skip
        async with Server() + Answers() + bridge:
            await bridge.wait_connected(10)
            print("ready", flush=True)
            await asyncio.Event().wait()

    asyncio.run(main())


def client_relays(url: str, events: int, calls: int) -> dict[str, Any]:
    import asyncio

    from relays_bridge import Bridge

    beat, ask, finished = _relays_classes()

    class Client(RoundClient):
        @_handler("finished")
        def _on_finished(self, total: int) -> None:
            self.all_handled(total)

    async def main() -> dict[str, Any]:
        client = Client()
        bridge = Bridge(
            url, channels=["bench", "done"], requests=["ask"], events=[beat, ask, finished],
            max_buffered=1_000_000,
        )  # fmt: skip
        async with client + bridge:
            await bridge.wait_connected(10)
            return await relays_round(client, beat, ask, events, calls)

    return asyncio.run(main())


async def relays_round(
    client: Any, beat: type[Any], ask: type[Any], events: int, calls: int
) -> dict[str, Any]:
    """One round from a running relays tree whose other end is connected: warm up,
    fire *events* beats on ``bench`` and wait until the other end says it handled them
    all (*client* sets its ``finished`` future then), then time *calls* asks in a row."""
    import asyncio

    for number in range(WARM_UP):  # warm up both ends
        await client.call(ask(number), "ask")
    client.finished = asyncio.get_running_loop().create_future()
    started = time.perf_counter()
    for number in range(events):
        client.fire(beat(number, events), "bench")
    await asyncio.wait_for(client.finished, 120)
    events_seconds = time.perf_counter() - started
    latencies = []
    started = time.perf_counter()
    for number in range(calls):
        before = time.perf_counter()
        assert await client.call(ask(number), "ask") == number
        latencies.append(time.perf_counter() - before)
    calls_seconds = time.perf_counter() - started
    return _figures(events, events_seconds, calls, calls_seconds, latencies)


# -- relays-bridge's process link ---------------------------------------------------
# The child imports these by name (this script loads there as __mp_main__), so they
# live at the top level.

from relays import Component as _Component  # noqa: E402
from relays import Event as _Event  # noqa: E402
from relays import handler as _handler  # noqa: E402


class RoundClient(_Component):
    """The measuring end of a relays round (see :func:`relays_round`): its ``finished``
    future resolves when the other end reports every beat handled. A subclass handles
    the event that report arrives as (``finished`` over a broker, ``link_finished`` over
    the process link) by calling :meth:`all_handled`."""

    channel = "done"

    def __init__(self) -> None:
        super().__init__()
        self.finished: Any = None  # an asyncio.Future[int], made by each round

    def all_handled(self, total: int) -> None:
        if self.finished is not None and not self.finished.done():
            self.finished.set_result(total)


class LinkBeat(_Event):
    """link_beat(number, total)"""


class LinkAsk(_Event):
    """link_ask(number) -> number"""


class LinkFinished(_Event):
    """link_finished(total)"""


class LinkWorker(_Component):
    """The child's subtree: counts beats, answers asks, on the server's CPU."""

    channel = "bench"

    def __init__(self) -> None:
        super().__init__()
        self.count = 0
        _harness.pin_this_process(SERVER_CPU)

    def link_beat(self, number: int, total: int) -> None:
        self.count += 1
        if self.count == total:
            self.count = 0
            self.fire(LinkFinished(total), "done")

    @_handler("link_ask", channel="ask")
    def answer(self, number: int) -> int:
        return number


def client_relays_process(events: int, calls: int) -> dict[str, Any]:
    import asyncio

    from relays_bridge import spawn

    class Parent(RoundClient):
        @_handler("link_finished")
        def _on_finished(self, total: int) -> None:
            self.all_handled(total)

    async def main() -> dict[str, Any]:
        parent = Parent()
        link = spawn(
            LinkWorker, link=parent, channels=["bench", "done"], requests=["ask"],
            events=[LinkBeat, LinkAsk, LinkFinished], max_buffered=1_000_000,
        )  # fmt: skip
        async with parent:
            await link.wait_connected(30)
            return await relays_round(parent, LinkBeat, LinkAsk, events, calls)

    return asyncio.run(main())


def client_circuits_process(events: int, calls: int) -> dict[str, Any]:
    """circuits 3.2.5's own Bridge: ``start(process=True, link=parent)``, ``ipc(event)``."""
    from circuits import Component, Event, handler
    from circuits.core.bridge import ipc

    class beat(Event):
        pass

    class ask(Event):
        pass

    class count_beats(Event):
        pass

    class go(Event):
        pass

    # circuits' Bridge pickles each event: its class must be found by name at the top
    # level of this module (in both processes: the child is forked after this).
    for event_class in (beat, ask, count_beats):
        event_class.__qualname__ = f"circuits_{event_class.__name__}"
        globals()[event_class.__qualname__] = event_class

    class Worker(Component):
        channel = "bench"

        def init(self) -> None:
            self.count = 0

        @handler("started", channel="*")
        def _pin(self, *args: Any) -> None:
            _harness.pin_this_process(SERVER_CPU)

        def beat(self, number: int, total: int) -> None:
            self.count += 1

        def count_beats(self) -> int:
            count, self.count = self.count, 0
            return count

        def ask(self, number: int) -> int:
            return number

    class Parent(Component):
        def init(self) -> None:
            self.child, _ = Worker().start(process=True, link=self)

        def started(self, *args: Any) -> None:
            self.fire(go())

        def go(self) -> Any:
            figures = yield from circuits_round(
                self, lambda event: ipc(event, channel="bench"), beat, ask, count_beats,
                events, calls,
            )  # fmt: skip
            print(json.dumps(figures), flush=True)
            self.child.terminate()  # a daemon process outlives os._exit otherwise
            os._exit(0)

    Parent().run()
    return {}


# -- circuits.node --------------------------------------------------------------------


def serve_circuits(port: int) -> None:
    from circuits import Component, handler
    from circuits.node import Node

    class Server(Component):
        channel = "bench"

        def init(self) -> None:
            self.count = 0
            Node(port=port, server_ip="127.0.0.1").register(self)

        @handler("ready", channel="node")  # the node's server socket listens
        def _listening(self, *args: Any) -> None:
            print("ready", flush=True)

        def beat(self, number: int, total: int) -> None:
            self.count += 1

        def count_beats(self) -> int:
            count, self.count = self.count, 0
            return count

        def ask(self, number: int) -> int:
            return number

    Server().run()


def client_circuits(port: int, events: int, calls: int) -> dict[str, Any]:
    from circuits import Component, Event, handler
    from circuits.node import Node, remote

    class beat(Event):
        pass

    class ask(Event):
        pass

    class count_beats(Event):
        pass

    class Client(Component):
        def init(self) -> None:
            self.node = Node().register(self)
            self.node.add("peer", "127.0.0.1", port, reconnect_delay=1)

        @handler("connected_to", channel="node")
        def connected_to(self, *args: Any) -> Any:
            figures = yield from circuits_round(
                self, lambda event: remote(event, "peer", channel="bench"), beat, ask,
                count_beats, events, calls,
            )  # fmt: skip
            print(json.dumps(figures), flush=True)
            os._exit(0)  # circuits' node would reconnect forever after a stop()

    Client().run()
    return {}


def circuits_round(
    component: Any,
    across: Callable[[Any], Any],
    beat: type[Any],
    ask: type[Any],
    count_beats: type[Any],
    events: int,
    calls: int,
) -> Generator[Any, Any, dict[str, Any]]:
    """One round from a circuits handler (``figures = yield from circuits_round(...)``):
    *across* wraps an event to go to the other end (``remote(...)`` or ``ipc(...)``).

    circuits handles the beats in its own time: ask until all did. Its node loses a
    few events of a burst (frames split across reads), so stop asking once a count adds
    none, and report what arrived, at the time the last ones had, and how many were lost.
    """
    for number in range(WARM_UP):
        yield component.call(across(ask(number)))
    started = time.perf_counter()
    for number in range(events):
        component.fire(across(beat(number, events)))
    arrived, events_seconds = 0, 0.0
    while arrived < events:
        value = yield component.call(across(count_beats()))
        if not value.value:
            break
        arrived += value.value
        events_seconds = time.perf_counter() - started
    latencies = []
    started = time.perf_counter()
    for number in range(calls):
        before = time.perf_counter()
        value = yield component.call(across(ask(number)))
        assert value.value == number
        latencies.append(time.perf_counter() - before)
    calls_seconds = time.perf_counter() - started
    figures = _figures(arrived, events_seconds, calls, calls_seconds, latencies)
    figures["lost"] = events - arrived
    return figures


# -- running ------------------------------------------------------------------------------


def _figures(
    events: int, events_seconds: float, calls: int, calls_seconds: float, latencies: list[float]
) -> dict[str, Any]:
    latencies.sort()
    return {
        "events_per_second": events / events_seconds,
        "calls_per_second": calls / calls_seconds,
        "p99_ms": latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000,
    }


@contextmanager
def _broker(kind: str) -> Iterator[str | None]:
    """A broker of *kind* on a free port, stopped afterwards; None when not installed."""
    program = shutil.which("redis-server" if kind == "redis" else "nats-server")
    if program is None:
        yield None
        return
    port = _harness.free_port()
    with tempfile.TemporaryDirectory() as directory:
        if kind == "redis":
            command = [program, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                       "--appendonly", "no", "--dir", directory]  # fmt: skip
            url = f"redis://127.0.0.1:{port}/0"
        else:
            command = [program, "-a", "127.0.0.1", "-p", str(port), "-js", "-sd", directory]
            url = f"nats://127.0.0.1:{port}"
        with _harness.ServerProcess(kind, command, port=port, cpu=SERVER_CPU) as broker:
            broker.wait_listening()
            yield url


def measure(system: str, address: str, events: int, calls: int) -> dict[str, Any]:
    """One round: a server process (it prints ``ready`` once it is), then a client
    process that prints its figures."""
    me = os.path.abspath(__file__)
    client = [sys.executable, me, "--client", system, address, str(events), str(calls)]
    timeout = 300 if system.startswith("relays") else PEER_TIMEOUT
    if system in CHILD_SYSTEMS:  # the client starts its child, which pins itself
        found: dict[str, Any] = _harness.run_client(
            client, cpu=CLIENT_CPU, timeout=timeout
        ).figures()
        return found
    port = int(address) if system == "circuits" else None
    command = [sys.executable, me, "--serve", system, address]
    with _harness.ServerProcess(
        system, command, port=port, cpu=SERVER_CPU, ready_line="ready"
    ) as server:
        server.wait_listening()
        figures: dict[str, Any] = _harness.run_client(
            client, cpu=CLIENT_CPU, timeout=timeout
        ).figures()
        return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=5000)
    parser.add_argument("--calls", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--only", default=",".join(SYSTEMS))
    parser.add_argument("--serve", nargs=2, metavar=("SYSTEM", "ADDRESS"), help=argparse.SUPPRESS)
    parser.add_argument("--client", nargs=4, help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.serve:
        system, address = options.serve
        if system == "circuits":
            serve_circuits(int(address))
        else:
            serve_relays(address)
        return
    if options.client:
        system, address, events, calls = options.client
        if system == "relays-process":
            figures = client_relays_process(int(events), int(calls))
        elif system == "circuits-process":
            figures = client_circuits_process(int(events), int(calls))
        elif system == "circuits":
            figures = client_circuits(int(address), int(events), int(calls))
        else:
            figures = client_relays(address, int(events), int(calls))
        print(json.dumps(figures), flush=True)
        return

    wanted = options.only.split(",")
    best: dict[str, dict[str, float]] = {}
    with _broker("redis") as redis_url, _broker("nats") as nats_url:
        brokers = {"relays-redis": redis_url, "relays-nats": nats_url}
        systems = [system for system in SYSTEMS if system in wanted]
        for system, url in brokers.items():
            if system in systems and url is None:
                print(f"{system}: skipped (the broker is not installed)")
                systems.remove(system)

        def one_round(number: int, system: str) -> dict[str, Any] | None:
            address = brokers.get(system) or "-"
            if system == "circuits":
                address = str(_harness.free_port())
            try:
                figures = measure(system, address, options.events, options.calls)
            except subprocess.TimeoutExpired:
                if system.startswith("relays"):
                    raise
                print(
                    f"{system}: round {number} did not finish in {PEER_TIMEOUT:.0f} s"
                    " (circuits lost an event it was waiting for)",
                    flush=True,
                )
                return None
            print(f"{system}: {json.dumps(figures)}", file=sys.stderr, flush=True)
            return figures

        # Systems take turns, so load on the machine meets all alike.
        outcomes = _harness.rounds(options.rounds, systems, one_round)
        for system, finished in outcomes.items():
            rounds = [each for each in finished if each is not None]
            if not rounds:
                continue  # (said above, round by round)
            best[system] = {
                "events_per_second": max(each["events_per_second"] for each in rounds),
                "calls_per_second": max(each["calls_per_second"] for each in rounds),
                "p99_ms": min(each["p99_ms"] for each in rounds),
                "lost": max(each.get("lost", 0) for each in rounds),
            }
    _report(best, options)


def _peer_of(system: str) -> str:
    """The circuits row a relays row is compared with."""
    return "circuits-process" if system in CHILD_SYSTEMS else "circuits"


def _report(best: dict[str, dict[str, float]], options: argparse.Namespace) -> None:
    print(
        f"\n{options.events} events and {options.calls} calls between two processes, "
        f"best of {options.rounds} rounds"
    )
    header = f"{'system':<17}{'events/s':>11}{'x':>7}{'calls/s':>10}{'x':>7}{'p99 ms':>9}{'x':>7}"
    print(header)
    print("-" * len(header))
    for system, figures in best.items():
        ratios = ["", "", ""]
        peer = best.get(_peer_of(system))
        if peer is not None and system.startswith("relays"):
            ratios = [
                f"{figures['events_per_second'] / peer['events_per_second']:.1f}",
                f"{figures['calls_per_second'] / peer['calls_per_second']:.1f}",
                f"{peer['p99_ms'] / figures['p99_ms']:.1f}",
            ]
        print(
            f"{system:<17}{figures['events_per_second']:>11.0f}{ratios[0]:>7}"
            f"{figures['calls_per_second']:>10.0f}{ratios[1]:>7}"
            f"{figures['p99_ms']:>9.2f}{ratios[2]:>7}"
        )
    for system, figures in best.items():
        if figures.get("lost"):
            print(f"{system}: lost up to {figures['lost']:.0f} of {options.events} events a round")
    for system, figures in best.items():
        peer = best.get(_peer_of(system))
        if peer is None or not system.startswith("relays"):
            continue
        ratios = (
            figures["events_per_second"] / peer["events_per_second"],
            figures["calls_per_second"] / peer["calls_per_second"],
        )
        verdict = "PASS" if min(ratios) >= TARGET else "MISS"
        print(f"{system}: target {TARGET}x {_peer_of(system)} in events/s and calls/s: {verdict}")


if __name__ == "__main__":
    main()
