#!/usr/bin/env python3
"""The seeds' programming models, next to the originals, driven by ``wrk``.

A hello resource on relays-resources against the same resource on twisted.web, and a
hello servlet on relays-servlets against the same servlet on Webware for Python 3
served by waitress. Each server runs in its own process pinned to one CPU and ``wrk``
on another (benchmarks/_harness.py), with keep-alive and with ``Connection: close``,
in alternating rounds of one run, the best round counting. relays' servers run twice,
on uvloop (the default when it is installed) and on asyncio's own loop
(``RELAYS_UVLOOP=0``, where relays-sockets uses its own transport); the peers once. The
table gives requests/s, p99 latency, the server's CPU per request split into user space
(the server's own code) and system time (the OS's: accept, read, write, close), and
relays' ratio to its peer measured in the same run, by requests/s and by CPU per request
(the peer's over relays': steadier than requests/s on a loaded machine), and how busy
the server kept its CPU (``busy``: requests/s times CPU per request; a server well
under 100% was not what limited its requests/s). Target: at least
2x both peers in both modes, by requests/s. A plain relays-http controller answering the
same hello is measured too (``relays-http``): both models add their layer on top of it,
and in the close mode they share its accept path. ``c-floor`` is ``http_floor.c``
(benchmarks/http.py's C floor: epoll, no parsing, the same hello): the operating
system's own cost per request, and so the most requests/s one ``wrk`` drives on this
machine in the same run. In the close mode that can be less than 2x a peer, and a
target line says so; the CPU ratio is then the one relays can meet. Each relays row
also gives its rate over the C floor's (``x c-floor``): near 1.0, wrk (on the other
core, most of it kernel time for connect and close) set the rate, not the server.

``--instructions`` counts machine instructions per keep-alive request instead, under
valgrind, over relays' in-memory transport (no sockets, no wrk): the hello resource,
the hello servlet and a plain relays-http controller page, so each model's own layer
is the difference to the controller row, whatever the machine's load.
``--close-instructions`` counts instructions per ``Connection: close`` request of every
server, peers included, over real sockets: each server runs under valgrind while one
client asks it, one connection each, and the count is read inside the running server
between batches of requests (``instructions.served_per_connection``; user space only).

The peers are in benchmarks/requirements-seeds.txt; a missing one is left out of the
table with a line saying how to install it, and ``--install-peers`` installs them into
the running Python's environment with pip.

Usage (see benchmarks/README.md)::

    apt-get install wrk valgrind
    .venv/bin/python benchmarks/seeds.py --install-peers
    .venv/bin/python benchmarks/seeds.py [--seconds 5] [--repeat 3] [--loops uvloop,asyncio]
    .venv/bin/python benchmarks/seeds.py --instructions
    .venv/bin/python benchmarks/seeds.py --close-instructions
"""

from __future__ import annotations

import _harness  # before the path is cleaned: benchmarks/ is where it lives
import instructions

_harness.unshadow_standard_library()

import argparse  # noqa: E402
import importlib.util  # noqa: E402
import os  # noqa: E402
import shutil  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from typing import Any  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
REQUIREMENTS = os.path.join(HERE, "requirements-seeds.txt")
HELLO = "Hello, World!"
#: server -> the peer it is compared with.
PAIRS = {"relays-resources": "twisted", "relays-servlets": "webware"}
#: relays-http's own controller: the floor both models stand on (the close mode's
#: accept path is shared), shown for reference.
FLOOR = "relays-http"
RELAYS = ("relays-resources", "relays-servlets", FLOOR)
#: The C floor (benchmarks/http_floor.c): the most wrk drives here, in the same run.
C_FLOOR = "c-floor"
SERVERS = ("relays-resources", "twisted", "relays-servlets", "webware", FLOOR, C_FLOOR)
#: The loops relays' servers run on: uvloop, and asyncio's own (``RELAYS_UVLOOP=0``).
LOOPS = ("uvloop", "asyncio")
#: The importable modules each server needs.
NEEDS = {
    FLOOR: ("relays_http", "relays_sockets"),
    "relays-resources": ("relays_resources", "relays_sockets"),
    "twisted": ("twisted",),
    "relays-servlets": ("relays_servlets", "relays_sockets"),
    "webware": ("webware", "waitress"),
    C_FLOOR: (),  # and a C compiler: see runnable()
}
#: Where a missing module comes from.
DISTRIBUTIONS = {
    "twisted": "twisted",
    "webware": "webware-for-python",
    "waitress": "waitress",
    "uvloop": "uvloop",
}
MODES = ("keep-alive", "close")
TARGET = 2.0
SERVLET = (
    "from {base} import {kind}\n\n\n"
    "class Main({kind}):\n"
    "    def respondToGet(self, transaction):\n"
    "        transaction.response().setHeader('Content-Type', 'text/plain')\n"
    f"        transaction.response().write({HELLO!r})\n"
)


# -- the servers: ``seeds.py --serve KIND --port N [--loop L]`` serves until killed -------


def serve_relays_resources(port: int) -> None:
    from relays_http import Server
    from relays_resources import Resource, Site
    from relays_sockets import TCPServer

    class Hello(Resource):
        isLeaf = True

        def render_GET(self, request):
            request.setHeader(b"Content-Type", b"text/plain")
            return HELLO.encode()

    transport = TCPServer(("127.0.0.1", port), channel="web")
    (Server(transport=transport) + Site(Hello())).run()


def serve_relays_http(port: int) -> None:
    from relays_http import Controller, Server
    from relays_sockets import TCPServer

    class Root(Controller):
        def index(self) -> str:
            self.response.headers["Content-Type"] = "text/plain"
            return HELLO

    transport = TCPServer(("127.0.0.1", port), channel="web")
    (Server(transport=transport) + Root()).run()


def serve_twisted(port: int) -> None:
    from twisted.internet import reactor
    from twisted.web import resource, server

    class Hello(resource.Resource):
        isLeaf = True

        def render_GET(self, request):
            request.setHeader(b"Content-Type", b"text/plain")
            return HELLO.encode()

    reactor.listenTCP(port, server.Site(Hello()), interface="127.0.0.1")  # type: ignore[attr-defined]
    reactor.run()  # type: ignore[attr-defined]


def serve_relays_servlets(port: int, directory: str) -> None:
    from relays_http import Server
    from relays_servlets import Servlets
    from relays_sockets import TCPServer

    with open(os.path.join(directory, "Main.py"), "w") as file:
        file.write(SERVLET.format(base="relays_servlets", kind="Servlet"))
    transport = TCPServer(("127.0.0.1", port), channel="web")
    (Server(transport=transport) + Servlets({"/": directory})).run()


def serve_webware(port: int, directory: str) -> None:
    work = os.path.join(directory, "work")
    webware_command = os.path.join(os.path.dirname(sys.executable), "webware")
    subprocess.run(
        [webware_command, "make", "-c", "Hello", work], check=True, stdout=subprocess.DEVNULL
    )
    with open(os.path.join(work, "Hello", "Main.py"), "w") as file:
        file.write(SERVLET.format(base="HTTPServlet", kind="HTTPServlet"))
    import webware
    from waitress import serve

    webware.addToSearchPath()
    os.chdir(work)
    sys.path.insert(0, work)
    from Application import Application  # type: ignore[import-not-found]

    application = Application(work, settings={}, development=False)
    serve(application, host="127.0.0.1", port=port, threads=4, _quiet=True)


def serve(kind: str, port: int, loop: str) -> None:
    """Serve *kind* on *port* until killed; relays' servers on *loop* (a peer has its own)."""
    if kind in RELAYS:
        # What a user sets: RELAYS_UVLOOP decides the loop of Component.run().
        os.environ["RELAYS_UVLOOP"] = "1" if loop == "uvloop" else "0"
    directory = tempfile.mkdtemp(prefix=f"seeds-{kind}-")
    try:
        if kind == "relays-resources":
            serve_relays_resources(port)
        elif kind == "twisted":
            serve_twisted(port)
        elif kind == FLOOR:
            serve_relays_http(port)
        elif kind == "relays-servlets":
            serve_relays_servlets(port, directory)
        elif kind == "webware":
            serve_webware(port, directory)
        else:
            raise SystemExit(f"unknown server {kind!r}")
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def in_memory_app(kind: str, directory: str) -> list[Any]:
    """The hello of *kind*, as components to put on an in-memory server."""
    if kind == "relays-resources":
        from relays_resources import Resource, Site

        class Hello(Resource):
            isLeaf = True

            def render_GET(self, request: Any) -> bytes:
                request.setHeader(b"Content-Type", b"text/plain")
                return HELLO.encode()

        return [Site(Hello())]
    if kind == "relays-servlets":
        from relays_servlets import Servlets

        with open(os.path.join(directory, "Main.py"), "w") as file:
            file.write(SERVLET.format(base="relays_servlets", kind="Servlet"))
        return [Servlets({"/": directory})]
    from relays_http import Controller, Dispatcher

    class Root(Controller):
        def index(self) -> str:
            self.response.headers["Content-Type"] = "text/plain"
            return HELLO

    return [Dispatcher(), Root()]


async def serve_in_memory(kind: str, count: int) -> None:
    """Answer *count* pipelined keep-alive requests (what ``--instructions`` counts)."""
    from relays.testing import MemoryTransport
    from relays_http import BaseServer

    directory = tempfile.mkdtemp(prefix=f"seeds-{kind}-")
    try:
        transport = MemoryTransport(channel="web")
        server = BaseServer(transport=transport)
        for component in in_memory_app(kind, directory):
            server += component
        request = b"GET / HTTP/1.1\r\nHost: bench\r\n\r\n"
        async with server:
            client = transport.connect()
            client.send(request)
            size = len(await client.wait(lambda data: data.endswith(HELLO.encode()), timeout=120))
            client.take()
            for start in range(0, count, 100):
                batch = min(100, count - start)
                client.send(request * batch)
                await client.wait(lambda data: len(data) >= size * batch, timeout=60)  # noqa: B023
                client.take()
    finally:
        shutil.rmtree(directory, ignore_errors=True)


# -- which servers can run ----------------------------------------------------------------


def missing_modules(kind: str) -> list[str]:
    return [name for name in NEEDS[kind] if importlib.util.find_spec(name) is None]


def runnable(kinds: tuple[str, ...] | list[str], loops: list[str]) -> list[tuple[str, str]]:
    """``(kind, loop)`` of every server that can run here (a peer's loop is ``-``); the
    others are named on stderr with the command that installs what they lack."""
    sides = []
    for kind in kinds:
        if kind == C_FLOOR:
            if _harness.find_compiler() is None:
                print(f"  {kind}: left out, no C compiler: apt-get install gcc", file=sys.stderr)
            else:
                sides.append((kind, "-"))
            continue
        missing = missing_modules(kind)
        if missing:
            packages = " ".join(sorted({DISTRIBUTIONS.get(name, name) for name in missing}))
            print(
                f"  {kind}: left out, {', '.join(missing)} not installed: "
                f"{sys.executable} -m pip install {packages} "
                f"(or --install-peers: -r {os.path.relpath(REQUIREMENTS)})",
                file=sys.stderr,
            )
            continue
        if kind not in RELAYS:
            sides.append((kind, "-"))
            continue
        for loop in loops:
            if loop == "uvloop" and importlib.util.find_spec("uvloop") is None:
                print(
                    f"  {kind} on uvloop: left out, uvloop not installed: "
                    f"{sys.executable} -m pip install 'relays[uvloop]'",
                    file=sys.stderr,
                )
                continue
            sides.append((kind, loop))
    return sides


def install_peers() -> int:
    """pip install -r requirements-seeds.txt into this Python's environment."""
    command = [sys.executable, "-m", "pip", "install", "--quiet", "-r", REQUIREMENTS]
    print("$ " + " ".join(command), file=sys.stderr)
    return subprocess.run(command, check=False).returncode


#: The compiled C floor, once main() has built it.
c_floor_program: str | None = None


def serve_command(kind: str, port: int, loop: str) -> list[str]:
    """This script serving *kind* on *port*, relays' servers on *loop*."""
    return [sys.executable, __file__, "--serve", kind, "--port", str(port), "--loop", loop]


def start(kind: str, loop: str, cpu: int | None) -> _harness.ServerProcess:
    port = _harness.free_port()
    if kind == C_FLOOR:
        assert c_floor_program is not None, "main() builds the C floor first"
        return _harness.ServerProcess(kind, [c_floor_program, str(port)], port=port, cpu=cpu)
    name = kind if loop == "-" else f"{kind} ({loop})"
    return _harness.ServerProcess(name, serve_command(kind, port, loop), port=port, cpu=cpu)


# -- instructions under valgrind ------------------------------------------------------------


#: Seconds a server under valgrind may take to start.
VALGRIND_TIMEOUT = 600.0


def served_instructions(kind: str, loop: str) -> float:
    """Instructions a server of *kind* runs per close-mode connection, counted inside the
    running server (valgrind counts user space: the kernel's share is not in it)."""
    port = _harness.free_port()
    return instructions.served_per_connection(
        serve_command(kind, port, loop),
        lambda count: _harness.ask_closing(port, count, expect=HELLO.encode()),
        ready=lambda process: _harness.wait_for_port(port, process, VALGRIND_TIMEOUT),
    )


def count_close_instructions(kinds: list[str], loops: list[str]) -> None:
    """Instructions per close-mode connection, every server, over real sockets."""
    if not instructions.available():
        sys.exit("valgrind is not installed: apt-get install valgrind")
    order = [kind for kind in (FLOOR, *PAIRS, *PAIRS.values()) if kind in kinds]
    rows = {}
    for kind, loop in runnable(order, loops):
        rows[kind, loop] = served_instructions(kind, loop)
        print(f"  {kind} ({loop}): {rows[kind, loop]:,.0f}", file=sys.stderr, flush=True)
    print(f"{'server':<18} {'loop':<8} {'instructions/connection':>24} {'over relays-http':>17}")
    for (kind, loop), per_connection in rows.items():
        floor = rows.get((FLOOR, loop))
        layer = "" if kind == FLOOR or floor is None else f"{per_connection - floor:+,.0f}"
        print(f"{kind:<18} {loop:<8} {per_connection:>24,.0f} {layer:>17}")


def count_instructions(kinds: list[str]) -> None:
    if not instructions.available():
        sys.exit("valgrind is not installed: apt-get install valgrind")
    rows = {}
    for kind in (FLOOR, "relays-resources", "relays-servlets"):
        if kind not in kinds:
            continue
        script = [sys.executable, os.path.abspath(__file__), "--count", kind]
        rows[kind] = instructions.per_item(script, 500, 2500)
    print(f"{'server':<18} {'instructions/request':>20} {'layer over relays-http':>24}")
    for kind, per_request in rows.items():
        layer = "" if kind == FLOOR or FLOOR not in rows else f"{per_request - rows[FLOOR]:+,.0f}"
        print(f"{kind:<18} {per_request:>20,.0f} {layer:>24}")


# -- wrk ------------------------------------------------------------------------------------


def user_and_system_seconds(pid: int) -> tuple[float, float]:
    """CPU time of process *pid* in user space (ours) and in the kernel (the OS's)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rpartition(")")[2].split()
    except OSError:
        return float("nan"), float("nan")
    ticks = os.sysconf("SC_CLK_TCK")
    return int(fields[11]) / ticks, int(fields[12]) / ticks


@dataclass(frozen=True)
class Measured:
    """One wrk run of one server in one mode."""

    rate: float  #: requests/s
    p99_ms: float
    errors: int
    user_us: float  #: server CPU in user space, per request
    system_us: float  #: server CPU in the kernel, per request

    @property
    def busy(self) -> float:
        """The share of one CPU the server used: well under 1, requests/s was bound by
        something else (the client, the kernel's TCP set-up, other load), not by it."""
        return self.rate * (self.user_us + self.system_us) / 1e6


def measure(
    server: _harness.ServerProcess, close: bool, seconds: float, connections: int, cpu: int | None
) -> Measured:
    user_before, system_before = user_and_system_seconds(server.pid)
    result = _harness.run_wrk(
        f"http://127.0.0.1:{server.port}/",
        seconds=seconds,
        connections=connections,
        cpu=cpu,
        headers=("Connection: close",) if close else (),
        latency=True,
        timeout="5s",
    )
    user_after, system_after = user_and_system_seconds(server.pid)
    per_request = 1e6 / result.requests if result.requests else float("nan")
    return Measured(
        rate=result.rate,
        p99_ms=result.p99_ms,
        errors=result.errors,
        user_us=(user_after - user_before) * per_request,
        system_us=(system_after - system_before) * per_request,
    )


def report(results: dict[tuple[str, str, str], Measured]) -> None:
    print(
        f"{'server':<18} {'loop':<8} {'mode':<11} {'req/s':>9} {'p99 ms':>8} "
        f"{'us CPU/req':>10} {'us user':>8} {'us sys':>7} {'busy':>5} {'errors':>6}  ratio"
    )
    missed = []
    for kind in SERVERS:
        for mode in MODES:
            for loop in ("-", *LOOPS):
                row = results.get((kind, loop, mode))
                if row is None:
                    continue
                peers = [PAIRS[kind]] if kind in PAIRS else []
                if kind == FLOOR:
                    peers = list(PAIRS.values())
                ratios = []
                for peer in peers:
                    other = results.get((peer, "-", mode))
                    if other is None or not other.rate:
                        continue
                    value = row.rate / other.rate
                    by_cpu = (other.user_us + other.system_us) / (row.user_us + row.system_us)
                    ratios.append(f"{value:.2f}x {peer} ({by_cpu:.2f}x by CPU)")
                    if kind in PAIRS and value < TARGET:
                        floor = results.get((C_FLOOR, "-", mode))
                        reach = ""
                        if floor is not None and floor.rate < TARGET * other.rate:
                            reach = (
                                f"; {TARGET}x is {TARGET * other.rate:,.0f} req/s, more than "
                                f"wrk drove the C floor to ({floor.rate:,.0f})"
                            )
                        missed.append(
                            f"{kind} on {loop}, {mode}: {value:.2f}x {peer} "
                            f"(target {TARGET}x; {by_cpu:.2f}x by CPU{reach})"
                        )
                floor_row = results.get((C_FLOOR, "-", mode))
                if kind in RELAYS and floor_row is not None and floor_row.rate:
                    # How near the most wrk drives here: near 1.0, the load generator,
                    # not the server, sets the rate, and the CPU ratio is the server's.
                    ratios.append(f"{row.rate / floor_row.rate:.2f}x c-floor")
                print(
                    f"{kind:<18} {loop:<8} {mode:<11} {row.rate:>9.0f} {row.p99_ms:>8.2f} "
                    f"{row.user_us + row.system_us:>10.1f} {row.user_us:>8.1f} "
                    f"{row.system_us:>7.1f} {row.busy:>5.0%} {row.errors:>6}  "
                    f"{', '.join(ratios)}"
                )
    for line in missed:
        print(f"below target: {line}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--serve", choices=SERVERS, help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--loop", default="-", help=argparse.SUPPRESS)
    parser.add_argument("--count", nargs=2, help=argparse.SUPPRESS)
    parser.add_argument(
        "--install-peers",
        action="store_true",
        help="pip install benchmarks/requirements-seeds.txt into this Python, then exit",
    )
    parser.add_argument(
        "--instructions", action="store_true", help="count instructions per request (valgrind)"
    )
    parser.add_argument(
        "--close-instructions",
        action="store_true",
        help="count instructions per close-mode connection of every server (valgrind)",
    )
    parser.add_argument(
        "--loops",
        default=",".join(LOOPS),
        help="the loops relays' servers run on, of uvloop,asyncio (default: both)",
    )
    parser.add_argument(
        "--only", help="comma-separated servers to run (default: all of them)", default=""
    )
    parser.add_argument("--seconds", type=float, default=5.0, help="length of each wrk run")
    parser.add_argument("--connections", type=int, default=50, help="wrk connections")
    parser.add_argument("--repeat", type=int, default=3, help="rounds; the best one counts")
    args = parser.parse_args()
    if args.serve:
        serve(args.serve, args.port, args.loop)
        return 0
    if args.count:
        import asyncio

        asyncio.run(serve_in_memory(args.count[0], int(args.count[1])))
        return 0
    if args.install_peers:
        return install_peers()
    loops = [loop for loop in args.loops.split(",") if loop]
    unknown = set(loops) - set(LOOPS)
    if unknown:
        parser.error(f"unknown loop(s) {', '.join(sorted(unknown))}: choose from {LOOPS}")
    kinds = [kind for kind in SERVERS if not args.only or kind in args.only.split(",")]
    if args.instructions:
        count_instructions(kinds)
        return 0
    if args.close_instructions:
        count_close_instructions(kinds, loops)
        return 0
    if shutil.which("wrk") is None:
        print("wrk is not installed: apt-get install wrk", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory(prefix="seeds-bench-") as build:
        sides = runnable(kinds, loops)
        if (C_FLOOR, "-") in sides:
            global c_floor_program
            c_floor_program = _harness.build_c_floor(build)
        results = measure_all(sides, args)
    report(results)
    return 0


def measure_all(
    sides: list[tuple[str, str]], args: argparse.Namespace
) -> dict[tuple[str, str, str], Measured]:
    """Every side in every mode, in alternating rounds; the best round of each."""
    server_cpu, client_cpu = _harness.server_and_client_cpus()
    ready, started = _harness.start_all(
        [lambda kind=kind, loop=loop: start(kind, loop, server_cpu) for kind, loop in sides]
    )
    results: dict[tuple[str, str, str], Measured] = {}
    where = {id(server): side for server, side in zip(started, sides, strict=True)}
    try:
        for server in ready:  # warm up: first requests import, compile, fill caches
            for mode in MODES:
                measure(server, mode == "close", 1, args.connections, client_cpu)

        def measure_round(number: int, server: _harness.ServerProcess) -> dict[str, Measured]:
            return {
                mode: measure(server, mode == "close", args.seconds, args.connections, client_cpu)
                for mode in MODES
            }

        outcomes = _harness.rounds(args.repeat, ready, measure_round)
    finally:
        for server in started:
            server.stop()
    for server, rounds in outcomes.items():
        kind, loop = where[id(server)]
        for mode in MODES:
            results[kind, loop, mode] = max((one[mode] for one in rounds), key=lambda m: m.rate)
    return results


if __name__ == "__main__":
    sys.exit(main())
