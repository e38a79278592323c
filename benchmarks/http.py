#!/usr/bin/env python3
"""HTTP hello-world throughput: relays-http next to its peers, driven by ``wrk``.

Every server answers ``GET /`` with ``Hello, World!`` and runs in its own process
pinned to one CPU; ``wrk`` runs pinned to another, so a server gets one whole core
and the load generator never competes with it. Each server is measured twice: with
keep-alive (connections reused) and with ``Connection: close`` (a new connection per
request). The table gives requests/s, the 99th percentile latency, the server's CPU
per request with its system part (the kernel's accept, reads, writes and close, which
every server on the same sockets pays: what no Python code can cut), and the ratio of
relays' requests/s to each peer's, all from the same run.

Peers: circuits.web, aiohttp, uvicorn (h11 on asyncio, and httptools on uvloop),
cheroot (CherryPy's WSGI server) and twisted.web. Those not installed are skipped.
``asyncio-floor`` is no HTTP server: a bare :class:`asyncio.Protocol` that answers
every read with the same bytes, on asyncio's own loop. It shows what the loop, the
accept and the socket calls alone cost, the floor under every server on that loop;
``uvloop-floor`` is the same protocol on uvloop. ``c-floor`` is ``http_floor.c`` beside
this file (compiled with ``cc -O2`` at each run): the same answers from C with epoll and
deferred accepting, so that its CPU per request is the operating system's share, the
floor under every server on this machine. ``relays`` runs on asyncio's loop with
relays-sockets' own transport, ``relays-uvloop`` on uvloop (the default when it is
installed), also with relays-sockets' own transport, as a plain TCP server gets it there;
``relays-uvloop-transport`` on uvloop with uvloop's own server and transports
(``TCPServer(fast_transport=False)``, as ``RELAYS_FAST_TRANSPORT=0`` does).

``--close-instructions`` counts instead the machine instructions each server runs per
``Connection: close`` request (valgrind, user space only: the kernel's share is not in
it), a figure the machine's load does not move; ``--syscalls`` counts the system calls
per ``Connection: close`` request (strace).

Usage (see benchmarks/README.md)::

    apt-get install wrk
    .venv/bin/pip install -r benchmarks/requirements-http.txt
    .venv/bin/python benchmarks/http.py [--seconds 5] [--connections 50] [--only relays,aiohttp]
"""

from __future__ import annotations

import os
import sys

# This file is called http.py, so running it puts benchmarks/ first on sys.path, where it
# would shadow the standard library's http package for everything imported below. The
# shared harness lives there too (and imports nothing that imports http): it comes first,
# also in the servers this driver starts with -P (no script folder on the path).
_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, _HERE)
import _harness  # noqa: E402
import instructions  # noqa: E402  (imports nothing that imports http either)

sys.path[:] = [path for path in sys.path if os.path.abspath(path or ".") != _HERE]

import argparse  # noqa: E402
import shutil  # noqa: E402
import signal  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
from collections.abc import Callable, Sequence  # noqa: E402

HELLO = b"Hello, World!"
SERVERS = (
    "relays",
    "relays-uvloop",
    "relays-uvloop-transport",
    "circuits",
    "aiohttp",
    "uvicorn-h11",
    "uvicorn-httptools",
    "cheroot",
    "twisted",
    "asyncio-floor",
    "uvloop-floor",
    "c-floor",
)
#: Run only when named with --only: variants for measuring one of relays' choices.
VARIANTS = ("relays-no-defer",)
#: What each server needs importable to run.
NEEDS = {
    "relays": ("relays_http",),
    "relays-uvloop": ("relays_http", "uvloop"),
    "relays-uvloop-transport": ("relays_http", "uvloop"),
    "relays-no-defer": ("relays_http",),
    "circuits": ("circuits",),
    "aiohttp": ("aiohttp",),
    "uvicorn-h11": ("uvicorn", "h11"),
    "uvicorn-httptools": ("uvicorn", "httptools", "uvloop"),
    "cheroot": ("cheroot",),
    "twisted": ("twisted",),
    "asyncio-floor": (),
    "uvloop-floor": ("uvloop",),
    "c-floor": (),  # and a C compiler: see installed()
}
#: relays must reach these ratios to the peer (keep-alive and close alike).
TARGETS = {"aiohttp": 1.0, "circuits": 5.0}


# -- the servers: ``http.py --serve KIND --port N`` serves until killed -------------------


def serve_relays(
    port: int,
    use_uvloop: bool = False,
    defer_accept: float | None = None,
    fast_transport: bool | None = None,
) -> None:
    from relays import Component
    from relays_http import Request, Response, Server
    from relays_sockets import TCPServer

    class Hello(Component):
        channel = "web"

        def request(self, request: Request, response: Response) -> bytes:
            response.headers["Content-Type"] = "text/plain"
            return HELLO

    # The transport is made here rather than found through the plugins, so that a broken
    # unrelated plugin in the environment cannot keep the benchmark from running.
    transport = TCPServer(
        ("127.0.0.1", port),
        channel="web",
        defer_accept=defer_accept,
        fast_transport=fast_transport,
    )
    (Server(transport=transport) + Hello()).run(use_uvloop=use_uvloop)


def serve_circuits(port: int) -> None:
    from circuits.web import Controller, Server

    class Root(Controller):
        def index(self) -> bytes:
            self.response.headers["Content-Type"] = "text/plain"
            return HELLO

    (Server(("127.0.0.1", port)) + Root()).run()


def serve_aiohttp(port: int) -> None:
    from aiohttp import web

    async def hello(request: web.Request) -> web.Response:
        return web.Response(body=HELLO, content_type="text/plain")

    app = web.Application()
    app.router.add_get("/", hello)
    web.run_app(app, host="127.0.0.1", port=port, access_log=None, print=None)


async def _asgi_hello(
    scope: dict[str, object], receive: Callable[..., object], send: Callable[..., object]
) -> None:
    assert scope["type"] == "http"
    await send(  # type: ignore[misc]
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"text/plain"), (b"content-length", b"13")],
        }
    )
    await send({"type": "http.response.body", "body": HELLO})  # type: ignore[misc]


def serve_uvicorn(port: int, http: str, loop: str) -> None:
    import uvicorn

    uvicorn.run(
        _asgi_hello,
        host="127.0.0.1",
        port=port,
        http=http,
        loop=loop,
        access_log=False,
        log_level="warning",
        lifespan="off",
    )


def serve_cheroot(port: int) -> None:
    from cheroot import wsgi

    def app(environ: dict[str, object], start_response: Callable[..., object]) -> list[bytes]:
        start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "13")])
        return [HELLO]

    server = wsgi.Server(("127.0.0.1", port), app)
    server.start()


def serve_twisted(port: int) -> None:
    from twisted.internet import reactor
    from twisted.web import resource, server

    class Hello(resource.Resource):
        isLeaf = True

        def render_GET(self, request: object) -> bytes:
            request.setHeader(b"content-type", b"text/plain")  # type: ignore[attr-defined]
            return HELLO

    reactor.listenTCP(port, server.Site(Hello()), interface="127.0.0.1")  # type: ignore[attr-defined]
    reactor.run()  # type: ignore[attr-defined]


def serve_asyncio_floor(port: int, use_uvloop: bool = False) -> None:
    import asyncio

    head = b"HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: 13\r\n"
    answer = head + b"\r\n" + HELLO
    closing = head + b"connection: close\r\n\r\n" + HELLO

    class Floor(asyncio.Protocol):
        """One response per read, no parsing: the loop's own cost (see the docstring)."""

        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            self.transport: asyncio.Transport = transport  # type: ignore[assignment]

        def data_received(self, data: bytes) -> None:
            if b"close" in data:  # the benchmark sends "Connection: close" or nothing
                self.transport.write(closing)
                self.transport.close()
            else:
                self.transport.write(answer)

    async def main() -> None:
        server = await asyncio.get_running_loop().create_server(Floor, "127.0.0.1", port)
        await server.serve_forever()

    if use_uvloop:
        import uvloop

        loop = uvloop.new_event_loop()
        try:
            loop.run_until_complete(main())
        finally:
            loop.close()
    else:
        asyncio.run(main())


#: Where the driver puts the compiled ``http_floor.c`` for the server processes it starts.
FLOOR_PROGRAM = "RELAYS_BENCH_HTTP_FLOOR"


def build_c_floor(directory: str) -> None:
    """Compile ``http_floor.c`` into *directory* (:func:`_harness.build_c_floor`) and tell
    the servers started later where."""
    try:
        os.environ[FLOOR_PROGRAM] = _harness.build_c_floor(directory)
    except RuntimeError as error:
        raise SystemExit(str(error)) from None


def serve_c_floor(port: int) -> None:
    """Become the compiled floor (same process: its CPU time is what is measured)."""
    program = os.environ[FLOOR_PROGRAM]
    os.execv(program, [program, str(port)])


def serve(kind: str, port: int) -> None:
    if kind == "relays":
        serve_relays(port)
    elif kind == "relays-uvloop":
        serve_relays(port, use_uvloop=True)
    elif kind == "relays-uvloop-transport":  # uvloop's own server and transports
        serve_relays(port, use_uvloop=True, fast_transport=False)
    elif kind == "relays-no-defer":  # TCP_DEFER_ACCEPT off (relays-http turns it on)
        serve_relays(port, defer_accept=0)
    elif kind == "circuits":
        serve_circuits(port)
    elif kind == "aiohttp":
        serve_aiohttp(port)
    elif kind == "uvicorn-h11":
        serve_uvicorn(port, "h11", "asyncio")
    elif kind == "uvicorn-httptools":
        serve_uvicorn(port, "httptools", "uvloop")
    elif kind == "cheroot":
        serve_cheroot(port)
    elif kind == "twisted":
        serve_twisted(port)
    elif kind == "asyncio-floor":
        serve_asyncio_floor(port)
    elif kind == "uvloop-floor":
        serve_asyncio_floor(port, use_uvloop=True)
    elif kind == "c-floor":
        serve_c_floor(port)
    else:
        raise SystemExit(f"unknown server {kind!r}")


# -- the driver -------------------------------------------------------------------------


def installed(kind: str) -> bool:
    import importlib.util

    if kind == "c-floor" and _harness.find_compiler() is None:
        return False
    return all(importlib.util.find_spec(name) is not None for name in NEEDS[kind])


def start_server(kind: str, cpu: int | None) -> _harness.ServerProcess:
    """Server *kind* in a process of its own, pinned to *cpu*, on a port of its own."""
    port = _harness.free_port()
    command = [sys.executable, "-P", __file__, "--serve", kind, "--port", str(port)]
    return _harness.ServerProcess(kind, command, port=port, cpu=cpu)


def measure_all(
    kinds: list[str], options: _harness.WrkOptions
) -> dict[str, dict[str, _harness.WrkResult]]:
    """Best of ``--repeat`` rounds; each round measures every server once, in turn, so a
    change in the machine's load hits all of them alike instead of one."""

    def progress(
        number: int, server: _harness.ServerProcess, mode: str, result: _harness.WrkResult
    ) -> None:
        print(
            f"  round {number}: {server.name:<24} {mode:<10} "
            f"{result.rate:>10.0f} req/s  p99 {result.p99_ms:>8.2f} ms  "
            f"{result.cpu_us_per_request:>6.1f} us CPU/req "
            f"({result.system_us_per_request:.1f} system)",
            file=sys.stderr,
        )

    starts = (lambda kind=kind: start_server(kind, options.server_cpu) for kind in kinds)
    with _harness.running(starts) as ready:
        return _harness.wrk_modes(ready, options, progress=progress)


def served_under(wrapper: list[str], kind: str, connections: int) -> str:
    """Run server *kind* under *wrapper* (valgrind, strace), answer *connections*
    close-mode requests, stop it; the wrapper's output (its stderr)."""
    port = _harness.free_port()
    command = [*wrapper, sys.executable, "-P", __file__, "--serve", kind, "--port", str(port)]
    with tempfile.TemporaryFile() as output:
        # A group of its own: the stop reaches the server under the wrapper too.
        process = subprocess.Popen(
            command,
            stdout=subprocess.DEVNULL,
            stderr=output,
            env={**os.environ, "PYTHONHASHSEED": "0"},
            start_new_session=True,
        )
        try:
            if not _harness.wait_for_port(port, process, timeout=600.0):
                raise RuntimeError(f"{kind} did not start under {wrapper[0]}")
            _harness.ask_closing(port, connections, expect=HELLO)
        finally:
            os.killpg(process.pid, signal.SIGTERM)  # the group we made: never by name
            process.wait(600)
        output.seek(0)
        return output.read().decode(errors="replace")


def close_instructions(kind: str) -> float:
    """User-space instructions per close-mode connection of server *kind*, counted inside
    the running server under callgrind (``instructions.served_per_connection``)."""
    port = _harness.free_port()
    command = [sys.executable, "-P", __file__, "--serve", kind, "--port", str(port)]
    return instructions.served_per_connection(
        command,
        lambda count: _harness.ask_closing(port, count, expect=HELLO),
        ready=lambda process: _harness.wait_for_port(port, process, timeout=600.0),
    )


def close_syscalls(kind: str, small: int, large: int) -> dict[str, float]:
    """System calls per close-mode connection of server *kind*, by name (``strace -c``
    over two runs, for *small* and *large* connections; start-up cancels out)."""
    tables = []
    for connections in (small, large):
        with tempfile.NamedTemporaryFile(suffix=".strace") as table:
            served_under(["strace", "-f", "-c", "-o", table.name], kind, connections)
            counts: dict[str, int] = {}
            with open(table.name) as lines:
                for line in lines:
                    fields = line.split()
                    if len(fields) >= 5 and fields[3].isdigit() and fields[-1] != "total":
                        counts[fields[-1]] = int(fields[3])
            tables.append(counts)
    names = set(tables[0]) | set(tables[1])
    per_connection = {
        name: (tables[1].get(name, 0) - tables[0].get(name, 0)) / (large - small) for name in names
    }
    return {name: count for name, count in per_connection.items() if count >= 0.05}


def report_close_counts(kinds: list[str], syscalls: bool) -> None:
    """``--close-instructions`` / ``--syscalls``: one line per server."""
    tool = "strace" if syscalls else "valgrind"
    if shutil.which(tool) is None:
        raise SystemExit(f"{tool} is not installed: apt-get install {tool}")
    for kind in kinds:
        if syscalls:
            calls = close_syscalls(kind, 200, 1200)
            listed = ", ".join(
                f"{name} {count:.2f}" for name, count in sorted(calls.items(), key=lambda c: -c[1])
            )
            print(f"{kind:<24} {sum(calls.values()):>6.2f} syscalls/connection: {listed}")
        elif kind == "c-floor":  # its own user space is a few hundred instructions
            print(f"{kind:<24} {'-':>12} (valgrind does not follow its exec)")
        else:
            per_connection = close_instructions(kind)
            print(f"{kind:<24} {per_connection:>12,.0f} instructions/connection")


def load() -> str:
    """The machine's load average, for the table's heading (the machine is shared)."""
    try:
        return ", load " + " ".join(open("/proc/loadavg").read().split()[:3])
    except OSError:
        return ""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--serve", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    _harness.add_wrk_arguments(
        parser, only_help=f"comma-separated servers out of {', '.join(SERVERS + VARIANTS)}"
    )
    parser.add_argument(
        "--close-instructions",
        action="store_true",
        help="count instructions per Connection: close request (valgrind) instead",
    )
    parser.add_argument(
        "--syscalls",
        action="store_true",
        help="count system calls per Connection: close request (strace) instead",
    )
    args = parser.parse_args()
    if args.serve:
        serve(args.serve, args.port)
        return 0
    with tempfile.TemporaryDirectory(prefix="http-bench-") as build:
        if installed("c-floor"):
            build_c_floor(build)
        return measure(args, parser)


def measure(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    """The run that main() asked for, once the C floor is built."""
    if args.close_instructions or args.syscalls:
        kinds = [kind.strip() for kind in args.only.split(",")] if args.only else list(SERVERS)
        report_close_counts([kind for kind in kinds if installed(kind)], args.syscalls)
        return 0
    if shutil.which("wrk") is None:
        print("wrk is not installed: apt-get install wrk", file=sys.stderr)
        return 2
    options = _harness.wrk_options(args)
    kinds = _harness.choose_servers(
        parser, args.only, known=SERVERS + VARIANTS, default=SERVERS, installed=installed
    )
    print(
        f"wrk -t1 -c{options.connections}, {options.seconds:g} s per run, best of "
        f"{options.repeat}; server on CPU {options.server_cpu}, wrk on CPU "
        f"{options.client_cpu}{load()}",
        file=sys.stderr,
    )
    results = measure_all(kinds, options)
    report(results, options.modes)
    return 0


def report(results: dict[str, dict[str, _harness.WrkResult]], modes: Sequence[str]) -> None:
    base = results.get("relays", {})
    print()
    print(
        f"{'server':<24} {'mode':<10} {'req/s':>10} {'p99 ms':>8} {'errors':>7} "
        f"{'us CPU/req':>10} {'relays/x':>9} {'CPU x/relays':>12} {'user us':>8} {'system us':>9}"
        "  target (req/s, CPU)"
    )
    for kind, by_mode in results.items():
        for mode in modes:
            if mode not in by_mode:
                continue
            result = by_mode[mode]
            rate, p99, errors = result.rate, result.p99_ms, result.errors
            cpu, system = result.cpu_us_per_request, result.system_us_per_request
            ratio, cpu_ratio = result.ratios(base.get(mode))
            target = TARGETS.get(kind)
            verdict = ""
            if target is not None:
                verdicts = ["PASS" if value >= target else "MISS" for value in (ratio, cpu_ratio)]
                verdict = f">= {target:g}x {' '.join(verdicts)}"
            shown = "-" if kind == "relays" else f"{ratio:.2f}x"
            shown_cpu = "-" if kind == "relays" else f"{cpu_ratio:.2f}x"
            print(
                f"{kind:<24} {mode:<10} {rate:>10.0f} {p99:>8.2f} {errors:>7} "
                f"{cpu:>10.1f} {shown:>9} {shown_cpu:>12} {cpu - system:>8.1f} {system:>9.1f}  "
                f"{verdict}"
            )


if __name__ == "__main__":
    sys.exit(main())
