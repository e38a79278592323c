#!/usr/bin/env python3
"""WebSocket echo throughput: relays-websocket next to ``websockets`` and aiohttp.

Each server echoes binary messages and runs in its own process pinned to one CPU;
the load generator runs pinned to another. It opens ``--connections`` WebSockets
(no compression offered, so none is negotiated) and on each one sends a message,
waits for the whole echo, and sends the next (a closed loop): the table gives
messages/s, the 99th percentile round trip, the server's CPU time per message, and
relays' ratio to each peer, for 64-byte and 64 KiB messages, all from the same run.
The load generator is deliberately thin (frames masked once, replies counted by
length, not parsed) so that it is never the bottleneck.

``--core`` instead measures the sans-IO layers in-process: parsing masked client
frames (relays' core, wsproto, the ``websockets`` library's sans-IO protocol) and
masking alone (relays' pure-Python paths, ``websockets.speedups`` in C, wsproto's
masker): the figures behind docs/explanation/websocket.rst.

``--instructions`` counts machine instructions per echoed message under valgrind (see
instructions.py), a figure the machine's load does not move: each server runs in the
same process as a thin client (the same client for every server, so the differences are
the servers'), and two runs with different message counts cancel start-up out.

Every mode prints which masking the relays server ran: the C path of
``relays-websocket[speedups]`` (the ``websockets`` library's ``apply_mask``) when it is
installed, which it is in the workspace, or the pure-Python one.

Usage (see benchmarks/README.md)::

    .venv/bin/python benchmarks/websocket.py [--seconds 3] [--connections 50] [--repeat 2]
    .venv/bin/python benchmarks/websocket.py --core
    .venv/bin/python benchmarks/websocket.py --instructions [--only relays,aiohttp]
"""

from __future__ import annotations

import os
import sys

# benchmarks/ is where _harness lives; put it first on sys.path (also under ``python -P``,
# as the servers and the load run), import it, then clean the path.
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _harness

_harness.unshadow_standard_library()

import argparse  # noqa: E402
import asyncio  # noqa: E402
import base64  # noqa: E402
import contextlib  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import time  # noqa: E402
from collections.abc import AsyncIterator, Awaitable, Callable  # noqa: E402
from typing import Any  # noqa: E402

SERVERS = ("relays", "websockets", "aiohttp")
SIZES = (64, 65536)
#: relays must reach these ratios to the faster peer, by message size.
TARGETS = {64: 1.0, 65536: 0.9}


# -- the servers, each as its users would write it ------------------------------------------
# ``websocket.py --serve KIND --port N`` runs one in a process of its own until stopped
# (the timed table); ``--instructions`` runs the same one inside the counting process.


def relays_echo(port: int) -> Any:
    """relays-websocket echoing every message: the tree, not yet started."""
    from relays import Component
    from relays_http import Server
    from relays_websocket import WebSocket, WebSockets

    class Echo(Component):
        channel = "ws"

        def read(self, sock: WebSocket, message: str | bytes) -> str | bytes:
            return message

    app = Server(("127.0.0.1", port)) + WebSockets("/", ping_interval=None)
    app += Echo()
    return app


def websockets_echo() -> Callable[[Any], Awaitable[None]]:
    """The ``websockets`` library's connection handler echoing every message."""
    import logging

    from websockets.asyncio.server import ServerConnection

    async def echo(connection: ServerConnection) -> None:
        async for message in connection:
            await connection.send(message)

    logging.getLogger("websockets").setLevel(logging.CRITICAL)  # each abort logs a traceback
    return echo


def aiohttp_echo() -> Any:
    """An aiohttp application echoing every message on ``/``."""
    from aiohttp import WSMsgType, web

    async def echo(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(compress=False, autoping=True, max_msg_size=0)
        await ws.prepare(request)
        async for message in ws:
            if message.type is WSMsgType.BINARY:
                await ws.send_bytes(message.data)
            elif message.type is WSMsgType.TEXT:
                await ws.send_str(message.data)
        return ws

    app = web.Application()
    app.router.add_get("/", echo)
    return app


def serve_relays(port: int) -> None:
    relays_echo(port).run()


def serve_websockets(port: int) -> None:
    from websockets.asyncio.server import serve

    async def main() -> None:
        echo = websockets_echo()
        async with serve(echo, "127.0.0.1", port, compression=None, ping_interval=None) as server:
            await server.serve_forever()

    asyncio.run(main())


def serve_aiohttp(port: int) -> None:
    from aiohttp import web

    web.run_app(aiohttp_echo(), host="127.0.0.1", port=port, print=None, access_log=None)


SERVE = {"relays": serve_relays, "websockets": serve_websockets, "aiohttp": serve_aiohttp}


@contextlib.asynccontextmanager
async def serving_relays(port: int) -> AsyncIterator[None]:
    async with relays_echo(port):
        yield


@contextlib.asynccontextmanager
async def serving_websockets(port: int) -> AsyncIterator[None]:
    from websockets.asyncio.server import serve

    async with serve(websockets_echo(), "127.0.0.1", port, compression=None, ping_interval=None):
        yield


@contextlib.asynccontextmanager
async def serving_aiohttp(port: int) -> AsyncIterator[None]:
    from aiohttp import web

    runner = web.AppRunner(aiohttp_echo(), access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        yield
    finally:
        await runner.cleanup()


SERVING = {"relays": serving_relays, "websockets": serving_websockets, "aiohttp": serving_aiohttp}


# -- the load generator ------------------------------------------------------------------


def client_frame(size: int) -> bytes:
    """One masked binary frame of *size* bytes (the mask is fixed: no server cares)."""
    from relays_websocket.testing.strategies import encode_frame

    return encode_frame(0x2, os.urandom(size), mask=os.urandom(4))


def echo_length(size: int) -> int:
    """Bytes of the server's unmasked answer to a *size*-byte message."""
    return size + (2 if size < 126 else 4 if size < 65536 else 10)


class _Loop(asyncio.Protocol):
    """One connection's closed loop: send, count the echo's bytes, send again."""

    def __init__(self, frame: bytes, expected: int, stats: _Stats | _Counted) -> None:
        self.frame = frame
        self.expected = expected
        self.stats = stats
        self.handshake = True
        self.head = b""
        self.got = 0
        self.sent_at = 0.0
        self.transport: asyncio.Transport | None = None
        self.opened: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        key = base64.b64encode(os.urandom(16)).decode()
        transport.write(
            f"GET / HTTP/1.1\r\nHost: bench\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n".encode()
        )

    def data_received(self, data: bytes) -> None:
        if self.handshake:
            self.head += data
            head, found, rest = self.head.partition(b"\r\n\r\n")
            if not found:
                return  # the answer's head came in pieces
            if not head.startswith(b"HTTP/1.1 101"):
                self.opened.set_exception(RuntimeError(f"no 101: {head[:80]!r}"))
                return
            self.handshake = False
            self.opened.set_result(None)
            data = rest
        self.got += len(data)
        if self.got >= self.expected:
            self.got -= self.expected
            if self.stats.echoed(time.perf_counter() - self.sent_at):
                self.send()

    def send(self) -> None:
        assert self.transport is not None
        self.sent_at = time.perf_counter()
        self.transport.write(self.frame)


class _Stats:
    """The round trips of a timed run, until ``running`` is turned off."""

    def __init__(self) -> None:
        self.running = True
        self.latencies: list[float] = []

    def echoed(self, latency: float) -> bool:
        """Count one echo; whether its connection sends the next message."""
        if self.running:
            self.latencies.append(latency)
        return self.running


class _Counted:
    """Exactly *count* round trips in all (``--instructions``): ``done`` when they are."""

    def __init__(self, count: int) -> None:
        self.to_send = count
        self.to_echo = count
        self.done: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def sent(self) -> bool:
        """Whether one more message may go out (and count it)."""
        if self.to_send <= 0:
            return False
        self.to_send -= 1
        return True

    def echoed(self, latency: float) -> bool:
        self.to_echo -= 1
        if self.to_echo == 0:
            self.done.set_result(None)
        return self.sent()


async def _load(port: int, size: int, connections: int, seconds: float) -> tuple[float, float]:
    loop = asyncio.get_running_loop()
    frame = client_frame(size)
    stats = _Stats()
    protocols = []
    for _ in range(connections):
        _, protocol = await loop.create_connection(
            lambda: _Loop(frame, echo_length(size), stats), "127.0.0.1", port
        )
        await asyncio.wait_for(protocol.opened, 30)
        protocols.append(protocol)
    for protocol in protocols:  # a warm-up round trip each, not counted
        protocol.send()
    await asyncio.sleep(0.5)
    stats.latencies.clear()
    started = time.perf_counter()
    await asyncio.sleep(seconds)
    count = len(stats.latencies)
    elapsed = time.perf_counter() - started
    stats.running = False
    p99 = statistics.quantiles(stats.latencies, n=100)[98] * 1000 if count > 100 else float("nan")
    for protocol in protocols:
        assert protocol.transport is not None
        protocol.transport.abort()
    return count / elapsed, p99


async def _count(kind: str, size: int, connections: int, count: int) -> None:
    """Serve *kind* in this process and echo *count* messages of *size* bytes through it
    over *connections*, a closed loop each (what ``--instructions`` counts)."""
    loop = asyncio.get_running_loop()
    port = _harness.free_port()
    frame = client_frame(size)
    async with SERVING[kind](port):
        counted = _Counted(count)
        protocols = []
        for _ in range(connections):
            for _attempt in range(100):  # the server may bind its port a turn later
                try:
                    _, protocol = await loop.create_connection(
                        lambda: _Loop(frame, echo_length(size), counted), "127.0.0.1", port
                    )
                    break
                except ConnectionRefusedError:
                    await asyncio.sleep(0.05)
            else:
                raise RuntimeError(f"{kind} does not listen on port {port}")
            await asyncio.wait_for(protocol.opened, 60)
            protocols.append(protocol)
        for protocol in protocols:
            if counted.sent():
                protocol.send()
        await asyncio.wait_for(counted.done, 600)
        for protocol in protocols:
            assert protocol.transport is not None
            protocol.transport.abort()


def run_load(port: int, size: int, connections: int, seconds: float) -> None:
    """``--load``: print ``messages/s p99_ms`` for one run (in the pinned client process)."""
    rate, p99 = asyncio.run(_load(port, size, connections, seconds))
    print(f"{rate} {p99}")


# -- the driver --------------------------------------------------------------------------


def start(kind: str, cpu: int | None) -> _harness.ServerProcess:
    """``websocket.py --serve KIND`` on a port of its own, pinned to *cpu*."""
    port = _harness.free_port()
    command = [sys.executable, "-P", __file__, "--serve", kind, "--port", str(port)]
    return _harness.ServerProcess(kind, command, port=port, cpu=cpu)


#: messages/s, p99 ms, server CPU us per message.
Result = tuple[float, float, float]


def measure(server: _harness.ServerProcess, size: int, args: argparse.Namespace) -> Result | None:
    command = [
        sys.executable, "-P", __file__, "--load", "--port", str(server.port),
        "--size", str(size), "--connections", str(args.connections),
        "--seconds", str(args.seconds),
    ]  # fmt: skip
    try:
        run = _harness.run_client(
            command, cpu=args.client_cpu, server_pid=server.pid, timeout=args.seconds + 120
        )
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as error:
        tail = (error.stderr or "")[-300:] if isinstance(error.stderr, str) else ""
        print(f"  {server.name} {size} B: the load failed, run skipped: {tail}", file=sys.stderr)
        return None
    rate, p99 = (float(value) for value in run.output.split())
    # CPU is counted over the whole load run (connect and warm-up included): a ratio.
    seconds = args.seconds + 0.5
    cpu = run.server_cpu_seconds / (rate * seconds) * 1e6 if rate else float("nan")
    return rate, p99, cpu


def measure_all(args: argparse.Namespace) -> dict[int, dict[str, Result]]:
    """Best of ``--repeat`` rounds; each round measures every size on every server once,
    in turn."""
    results: dict[int, dict[str, Result]] = {size: {} for size in SIZES}
    ready, started = _harness.start_all(
        lambda kind=kind: start(kind, args.server_cpu) for kind in args.kinds
    )
    try:
        sides = [(size, server) for size in SIZES for server in ready]
        outcomes = _harness.rounds(
            args.repeat, sides, lambda _, side: measure(side[1], side[0], args)
        )
    finally:
        for server in started:
            server.stop()
    for (size, server), measured in outcomes.items():
        runs = [result for result in measured if result is not None]
        if runs:
            results[size][server.name] = max(runs, key=lambda result: result[0])
    return results


def report(results: dict[int, dict[str, Result]]) -> None:
    print()
    print(
        f"{'size':>6} {'server':<11} {'msgs/s':>9} {'p99 ms':>8} {'us CPU/msg':>10} "
        f"{'relays/x':>9}  target"
    )
    for size, by_kind in results.items():
        base = by_kind.get("relays")
        peers = [rate for kind, (rate, _, _) in by_kind.items() if kind != "relays"]
        for kind, (rate, p99, cpu) in by_kind.items():
            ratio = base[0] / rate if base and rate else float("nan")
            shown = "-" if kind == "relays" else f"{ratio:.2f}x"
            verdict = ""
            if kind == "relays" and peers:
                target = TARGETS[size]
                versus = rate / max(peers)
                verdict = f">= {target:g}x the faster peer: {versus:.2f}x " + (
                    "PASS" if versus >= target else "MISS"
                )
            print(
                f"{size:>6} {kind:<11} {rate:>9.0f} {p99:>8.2f} {cpu:>10.1f} {shown:>9}  {verdict}"
            )


# -- the sans-IO layers, in-process ---------------------------------------------------------


def best_of(function: object, rounds: int = 5) -> float:
    """Seconds of the fastest of *rounds* calls."""
    assert callable(function)
    timings = []
    for _ in range(rounds):
        started = time.perf_counter()
        function()
        timings.append(time.perf_counter() - started)
    return min(timings)


def repeat(function: Any, payload: bytes, mask: bytes, count: int) -> None:
    """Call ``function(payload, mask)`` *count* times, keeping no result alive (a list of
    results would measure the allocator, not the masking)."""
    for _ in range(count):
        function(payload, mask)


def core_rows(size: int, count: int) -> list[tuple[str, str, float]]:
    """Parsing and masking of *size*-byte messages, *count* of each, by every library."""
    from relays_websocket import WebSocketProtocol
    from relays_websocket._masking import apply_mask_python, c_apply_mask

    rows: list[tuple[str, str, float]] = []
    # Small messages 100 to a read (a busy connection), large ones one to a read (a read
    # holds at most 64 KiB): a batch of large frames measures the allocator, not the parse.
    per_read = 100 if size < 4096 else 1
    frames = b"".join(client_frame(size) for _ in range(per_read))
    batches = count // per_read

    def relays_parse() -> None:
        protocol = WebSocketProtocol(is_client=False)
        for _ in range(batches):
            protocol.receive_data(frames)

    rows.append((f"parse {size} B", "relays", best_of(relays_parse) / count))
    if c_apply_mask is not None:
        import relays_websocket._protocol as core_module

        def relays_parse_pure() -> None:
            core_module.apply_mask = apply_mask_python  # type: ignore[assignment]
            try:
                relays_parse()
            finally:
                core_module.apply_mask = c_apply_mask

        rows.append((f"parse {size} B", "relays, pure Python", best_of(relays_parse_pure) / count))
    try:
        from wsproto.connection import Connection, ConnectionType

        def wsproto_parse() -> None:
            connection = Connection(ConnectionType.SERVER)
            for _ in range(batches):
                connection.receive_data(frames)
                for _event in connection.events():
                    pass

        rows.append((f"parse {size} B", "wsproto", best_of(wsproto_parse) / count))
    except ImportError:
        pass
    try:
        from websockets.protocol import Protocol, Side

        def websockets_parse() -> None:
            protocol = Protocol(Side.SERVER, max_size=None)
            for _ in range(batches):
                protocol.receive_data(frames)
                protocol.events_received()

        rows.append((f"parse {size} B", "websockets", best_of(websockets_parse) / count))
    except ImportError:
        pass
    payload, mask = os.urandom(size), os.urandom(4)
    rows.append(
        (
            f"mask {size} B",
            "relays, pure Python",
            best_of(lambda: repeat(apply_mask_python, payload, mask, count)) / count,
        )
    )
    if c_apply_mask is not None:
        rows.append(
            (
                f"mask {size} B",
                "websockets' C",
                best_of(lambda: repeat(c_apply_mask, payload, mask, count)) / count,
            )
        )
    try:
        from wsproto.frame_protocol import XorMaskerSimple

        rows.append(
            (
                f"mask {size} B",
                "wsproto",
                best_of(
                    lambda: repeat(
                        lambda data, key: XorMaskerSimple(key).process(data), payload, mask, count
                    )
                )
                / count,
            )
        )
    except ImportError:
        pass
    return rows


def core(args: argparse.Namespace) -> None:
    print(f"relays masks with: {masking_path()}")
    rows = core_rows(64, 20000) + core_rows(65536, 300)
    print(f"{'what':<14} {'library':<20} {'us each':>9} {'x first':>9}")
    firsts: dict[str, float] = {}
    for what, library, seconds in rows:
        firsts.setdefault(what, seconds)
        print(f"{what:<14} {library:<20} {seconds * 1e6:>9.2f} {seconds / firsts[what]:>8.2f}x")


#: Messages per ``--instructions`` run, small and large, by message size: the difference
#: between the two runs is what the messages cost (start-up and handshakes cancel out).
COUNTS = {64: (500, 2500), 65536: (50, 250)}
#: Connections of an ``--instructions`` run: enough that a loop turn reads from several
#: sockets, as under the timed load, few enough that valgrind's run stays short.
COUNT_CONNECTIONS = 10


def count_instructions(args: argparse.Namespace) -> None:
    """``--instructions``: machine instructions per echoed message, under valgrind."""
    sys.path.insert(0, _harness.HERE)
    import instructions

    _harness.unshadow_standard_library()  # or http.py here hides the standard library's http
    if not instructions.available():
        print("--instructions needs valgrind (apt-get install valgrind)", file=sys.stderr)
        raise SystemExit(2)
    print(f"relays masks with: {masking_path()}")
    print(
        f"instructions per echoed message, server and the thin client in one process, "
        f"{COUNT_CONNECTIONS} connections"
    )
    print(f"{'size':>6} {'server':<11} {'instructions':>13} {'relays/x':>9}")
    for size in SIZES:
        figures: dict[str, float] = {}
        for kind in args.kinds:
            command = [
                sys.executable, "-P", __file__, "--count", kind,
                "--size", str(size), "--connections", str(COUNT_CONNECTIONS),
            ]  # fmt: skip
            figures[kind] = instructions.per_item(command, *COUNTS[size])
        for kind, figure in figures.items():
            ratio = "-" if kind == "relays" else f"{figures['relays'] / figure:.2f}x"
            print(f"{size:>6} {kind:<11} {figure:>13,.0f} {ratio:>9}", flush=True)


def masking_path() -> str:
    """Which masking the relays server in this environment runs (see _masking.py)."""
    from relays_websocket._masking import c_apply_mask

    if c_apply_mask is not None:
        return "websockets.speedups' C apply_mask (relays-websocket[speedups])"
    return "pure Python (install relays-websocket[speedups] for the C path)"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--serve", help=argparse.SUPPRESS)
    parser.add_argument("--load", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--size", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--count", help=argparse.SUPPRESS)
    parser.add_argument("messages", nargs="?", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--core", action="store_true", help="measure the sans-IO layers")
    parser.add_argument(
        "--instructions",
        action="store_true",
        help="count instructions per message under valgrind instead of timing",
    )
    parser.add_argument("--seconds", type=float, default=3.0, help="length of each load run")
    parser.add_argument("--connections", type=int, default=50, help="WebSocket connections")
    parser.add_argument("--only", help=f"comma-separated servers out of {', '.join(SERVERS)}")
    parser.add_argument("--repeat", type=int, default=2, help="rounds; the best one counts")
    parser.add_argument("--quick", action="store_true", help="one round of 1 s runs: a smoke test")
    server_cpu, client_cpu = _harness.server_and_client_cpus()
    parser.add_argument("--server-cpu", type=int, default=server_cpu, help="servers' CPU")
    parser.add_argument("--client-cpu", type=int, default=client_cpu, help="the load's CPU")
    args = parser.parse_args()
    if args.serve:
        SERVE[args.serve](args.port)
        return 0
    if args.load:
        run_load(args.port, args.size, args.connections, args.seconds)
        return 0
    if args.count:
        asyncio.run(_count(args.count, args.size, args.connections, args.messages))
        return 0
    if args.core:
        core(args)
        return 0
    if args.quick:
        args.seconds, args.repeat = 1.0, 1
    kinds = [kind.strip() for kind in args.only.split(",")] if args.only else list(SERVERS)
    if "relays" not in kinds:
        kinds.insert(0, "relays")
    args.kinds = kinds
    if args.instructions:
        count_instructions(args)
        return 0
    print(
        f"{args.connections} connections, {args.seconds:g} s per run, best of {args.repeat}; "
        f"servers on CPU {args.server_cpu}, load on CPU {args.client_cpu}",
        file=sys.stderr,
    )
    report(measure_all(args))
    print(f"relays masked with: {masking_path()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
