#!/usr/bin/env python3
"""ASGI apps served by relays next to the ASGI servers, driven by ``wrk``.

Two apps: a Starlette hello-world (``PlainTextResponse``) and a FastAPI endpoint
answering JSON (``{"message": "Hello, World!"}``), each served by:

- ``relays``: relays-http with :class:`relays_asgi.Asgi`, on relays' default loop
  (uvloop when it is installed, as ``relays serve`` does);
- ``uvicorn``: uvicorn with httptools on uvloop, its fastest set-up;
- ``hypercorn``: hypercorn on asyncio;
- ``granian``: granian's Rust HTTP stack, one worker.

Every server runs in its own process tree pinned to one CPU, ``wrk`` pinned to
another, as benchmarks/http.py does; each is measured with keep-alive and with
``Connection: close``. The table gives requests/s, p99 latency, CPU per request
(the server's process tree, from ``/proc``) and relays' ratio to each peer, all
from the same run. Target: relays >= 1.0x uvicorn in both modes.

Usage (see benchmarks/README.md)::

    apt-get install wrk
    .venv/bin/python benchmarks/asgi.py [--seconds 5] [--repeat 3] [--only relays,uvicorn]

``--instructions`` counts machine instructions per request instead, for relays and
uvicorn on the same app and the same socket traffic: each server runs under valgrind
(``apt-get install valgrind``), a client in this process sends it N requests one after
another (keep-alive: on one connection; close: a connection each, with ``Connection:
close``), then the server is stopped. Two runs, a small N and a large one, and the
difference in instructions over the difference in N is the figure: start-up, imports
and shutdown cancel out. The counts do not move with the machine's load (wall clock
does), so this is the figure to work against on a shared machine. Only the server's
instructions in user space are counted (valgrind sees no kernel work)::

    .venv/bin/python benchmarks/asgi.py --instructions [--apps starlette] [--modes keep-alive]
"""

from __future__ import annotations

import os
import sys

# The servers this driver starts run with -P (no script folder on sys.path): the shared
# harness is found by its folder, then the folder goes (its http.py would hide the
# standard library's http package from the servers' imports).
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _harness

_harness.unshadow_standard_library()

import argparse  # noqa: E402
import re  # noqa: E402
import shutil  # noqa: E402
import signal  # noqa: E402
import socket  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from collections.abc import Sequence  # noqa: E402
from typing import Any  # noqa: E402

APPS = ("starlette", "fastapi")
#: ``--apps`` may also name ``bare``: a plain ASGI callable, no framework, so that its
#: row is the servers' own cost per request (and the other rows minus it, the app's).
EXTRA_APPS = ("bare",)
SERVERS = ("relays", "uvicorn", "hypercorn", "granian")
#: What each server needs importable to run.
NEEDS = {
    "relays": ("relays_asgi", "uvloop"),
    "relays-http": ("relays_http", "uvloop"),
    "relays-exchange": ("relays_http", "uvloop"),
    "uvicorn": ("uvicorn", "httptools", "uvloop"),
    "hypercorn": ("hypercorn",),
    "granian": ("granian",),
}
#: relays must reach these ratios to the peer (keep-alive and close alike).
TARGETS = {"uvicorn": 1.0}


# -- the apps ---------------------------------------------------------------------------


def make_starlette() -> Any:
    from starlette.applications import Starlette
    from starlette.responses import PlainTextResponse
    from starlette.routing import Route

    async def hello(request: Any) -> PlainTextResponse:
        return PlainTextResponse("Hello, World!")

    return Starlette(routes=[Route("/", hello)])


def make_bare() -> Any:
    start = {
        "type": "http.response.start",
        "status": 200,
        "headers": [(b"content-type", b"text/plain"), (b"content-length", b"13")],
    }
    body = {"type": "http.response.body", "body": b"Hello, World!", "more_body": False}

    async def app(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            await send(start)
            await send(body)

    return app


def make_fastapi() -> Any:
    from fastapi import FastAPI

    app = FastAPI()

    @app.get("/")
    async def hello() -> dict[str, str]:
        return {"message": "Hello, World!"}

    return app


# -- the servers: ``asgi.py --serve KIND --app APP --port N`` serves until killed --------------


def serve(kind: str, app_name: str, port: int) -> None:
    makers = {"starlette": make_starlette, "fastapi": make_fastapi, "bare": make_bare}
    app = makers[app_name]()
    if kind == "relays":
        from relays_asgi import Asgi
        from relays_http import Server
        from relays_sockets import TCPServer

        # Made here rather than found through the plugins, as in benchmarks/http.py.
        transport = TCPServer(("127.0.0.1", port), channel="web")
        (Server(transport=transport) + Asgi(app)).run()
    elif kind == "relays-http":
        # No ASGI: relays-http answering the bare app's response from a plain request
        # handler, so the instruction counts split relays' cost into relays-http's
        # (with the kernel's request event) and relays-asgi's.
        from relays import Component
        from relays_http import Request, Response, Server
        from relays_sockets import TCPServer

        class Hello(Component):
            channel = "web"

            def request(self, request: Request, response: Response) -> bytes:
                response.headers["content-type"] = "text/plain"
                return b"Hello, World!"

        transport = TCPServer(("127.0.0.1", port), channel="web")
        (Server(transport=transport) + Hello()).run()
    elif kind == "relays-exchange":
        # No ASGI either: a head taker (HTTP.take_heads) answering the bare app's
        # response through the Exchange, so the counts split the native path into
        # relays-http's connection and relays-asgi's adapter.
        from relays_http import Exchange, Server
        from relays_sockets import TCPServer

        def hello(exchange: Exchange) -> bool:
            exchange.respond(200, [(b"content-type", b"text/plain")], b"Hello, World!")
            return True

        transport = TCPServer(("127.0.0.1", port), channel="web")
        server = Server(transport=transport)
        server.http.take_heads(hello)
        server.run()
    elif kind == "uvicorn":
        import uvicorn

        uvicorn.run(
            app,
            host="127.0.0.1",
            port=port,
            http="httptools",
            loop="uvloop",
            access_log=False,
            log_level="warning",
        )
    elif kind == "hypercorn":
        import asyncio

        from hypercorn.asyncio import serve as hypercorn_serve
        from hypercorn.config import Config

        config = Config()
        config.bind = [f"127.0.0.1:{port}"]
        config.accesslog = None
        config.loglevel = "WARNING"
        asyncio.run(hypercorn_serve(app, config))
    elif kind == "granian":
        # granian imports the app by name, in its worker. Not from benchmarks/ itself,
        # where http.py would shadow the standard library's http package: from a
        # module of its own that appends benchmarks/ to the path instead.
        folder = tempfile.mkdtemp(prefix="relays-asgi-bench-")
        with open(os.path.join(folder, "bench_apps.py"), "w") as module:
            module.write(
                "import sys\n"
                f"sys.path.append({os.path.dirname(os.path.abspath(__file__))!r})\n"
                "from asgi import make_fastapi, make_starlette\n"
                "starlette_app = make_starlette()\n"
                "fastapi_app = make_fastapi()\n"
            )
        os.execv(
            sys.executable,
            [
                sys.executable,
                "-m",
                "granian",
                "--interface",
                "asgi",
                "--workers",
                "1",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--no-ws",
                "--log-level",
                "warning",
                "--working-dir",
                folder,
                f"bench_apps:{app_name}_app",
            ],
        )
    else:
        raise SystemExit(f"unknown server {kind!r}")


# -- the driver -------------------------------------------------------------------------


def installed(kind: str) -> bool:
    import importlib.util

    return all(importlib.util.find_spec(name) is not None for name in NEEDS[kind])


class Running(_harness.ServerProcess):
    """One server process (tree), pinned to the server CPU, on its own port, named
    ``app/server`` as the table shows it."""

    def __init__(self, kind: str, app: str, cpu: int | None) -> None:
        self.kind = kind
        self.app = app
        port = _harness.free_port()
        command = [sys.executable, "-P", __file__, "--serve", kind, "--app", app]
        command += ["--port", str(port)]
        super().__init__(f"{app}/{kind}", command, port=port, cpu=cpu)


def measure(
    kinds: list[str], options: _harness.WrkOptions
) -> dict[str, dict[str, _harness.WrkResult]]:
    """Best of ``--repeat`` rounds, every server of a round measured in turn, one app
    at a time (so only two server processes... at most four run at once)."""

    def progress(
        number: int, server: _harness.ServerProcess, mode: str, result: _harness.WrkResult
    ) -> None:
        print(
            f"  round {number}: {server.name:<20} {mode:<10} {result.rate:>9.0f} req/s  "
            f"p99 {result.p99_ms:>8.2f} ms  {result.cpu_us_per_request:>6.1f} us CPU/req",
            file=sys.stderr,
        )

    results: dict[str, dict[str, _harness.WrkResult]] = {}
    for app in APPS:
        starts = (
            lambda kind=kind, app=app: Running(kind, app, options.server_cpu) for kind in kinds
        )
        with _harness.running(starts) as ready:
            # hypercorn and granian serve from worker processes: their CPU counts too
            results |= _harness.wrk_modes(ready, options, server_tree=True, progress=progress)
    return results


def report(results: dict[str, dict[str, _harness.WrkResult]], modes: Sequence[str]) -> None:
    print()
    print(
        f"{'app/server':<20} {'mode':<10} {'req/s':>9} {'p99 ms':>8} {'errors':>7} "
        f"{'us CPU/req':>10} {'relays/x':>9} {'CPU x/relays':>12}  target"
    )
    for label, by_mode in results.items():
        app, _, kind = label.partition("/")
        base = results.get(f"{app}/relays", {})
        for mode in modes:
            if mode not in by_mode:
                continue
            result = by_mode[mode]
            rate, p99, errors = result.rate, result.p99_ms, result.errors
            cpu = result.cpu_us_per_request
            ratio, cpu_ratio = result.ratios(base.get(mode))
            target = TARGETS.get(kind)
            verdict = ""
            if target is not None:
                verdict = f">= {target:g}x {'PASS' if ratio >= target else 'MISS'}"
            shown = "-" if kind == "relays" else f"{ratio:.2f}x"
            shown_cpu = "-" if kind == "relays" else f"{cpu_ratio:.2f}x"
            print(
                f"{label:<20} {mode:<10} {rate:>9.0f} {p99:>8.2f} {errors:>7} "
                f"{cpu:>10.1f} {shown:>9} {shown_cpu:>12}  {verdict}"
            )


# -- instructions per request (valgrind) ----------------------------------------------

#: Servers ``--instructions`` counts: relays and the peer it has a target against;
#: ``--only relays-http`` adds relays-http without ASGI (a plain ``request`` handler
#: answering what the bare app answers), for what relays-asgi itself costs;
#: ``--only relays-exchange`` a head taker answering it (``HTTP.take_heads``): the
#: native path without the ASGI adapter.
COUNTED = ("relays", "relays-exchange", "relays-http", "uvicorn")
#: valgrind's total in callgrind's summary ("Collected : N", or "refs: N").
_TOTAL = re.compile(r"(?:Collected|refs)\s*:\s*([\d,]+)")
#: How long a server under valgrind may take to start listening (imports are slow there,
#: and slower on a loaded machine).
VALGRIND_START_SECONDS = 1200.0


def _read_response(sock: socket.socket, pending: bytes, close: bool) -> bytes:
    """Read one response off *sock* (*pending*: bytes already read); the bytes after it."""
    while b"\r\n\r\n" not in pending:
        data = sock.recv(65536)
        if not data:
            raise ConnectionError("the server closed the connection before its response")
        pending += data
    head, _, rest = pending.partition(b"\r\n\r\n")
    if close:
        while sock.recv(65536):
            pass
        return b""
    found = re.search(rb"(?im)^content-length:\s*(\d+)", head)
    if found is None:
        raise ConnectionError(f"a keep-alive response without content-length: {head!r}")
    length = int(found.group(1))
    while len(rest) < length:
        data = sock.recv(65536)
        if not data:
            raise ConnectionError("the server closed the connection inside a body")
        rest += data
    return rest[length:]


def drive(port: int, count: int, close: bool) -> None:
    """Send *count* ``GET /`` requests one after another and read every response."""
    address = ("127.0.0.1", port)
    if close:
        request = b"GET / HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n"
        for _ in range(count):
            with socket.create_connection(address, timeout=120) as sock:
                sock.sendall(request)
                _read_response(sock, b"", close=True)
        return
    request = b"GET / HTTP/1.1\r\nHost: bench\r\n\r\n"
    with socket.create_connection(address, timeout=120) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        pending = b""
        for _ in range(count):
            sock.sendall(request)
            pending = _read_response(sock, pending, close=False)


def count_served(kind: str, app: str, count: int, close: bool) -> int:
    """Instructions the *kind* server runs from start to exit, serving *count* requests."""
    port = _harness.free_port()
    command = ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null"]
    command += [sys.executable, "-P", __file__, "--serve", kind, "--app", app]
    command += ["--port", str(port)]
    environment = {**os.environ, "PYTHONHASHSEED": "0"}
    process = subprocess.Popen(
        command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=environment
    )
    try:
        deadline = time.monotonic() + VALGRIND_START_SECONDS
        while True:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                _, errors = process.communicate()
                raise RuntimeError(
                    f"{kind} did not start under valgrind within {VALGRIND_START_SECONDS} s:"
                    f"\n{errors.decode(errors='replace')[-2000:]}"
                )
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.2)
        drive(port, count, close)
        process.send_signal(signal.SIGINT)  # both stop gracefully on it
        _, errors = process.communicate(timeout=VALGRIND_START_SECONDS)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    found = _TOTAL.search(errors.decode(errors="replace"))
    if found is None:
        raise RuntimeError(f"no instruction total from valgrind for {kind}:\n{errors[-2000:]!r}")
    return int(found.group(1).replace(",", ""))


def count_instructions(args: argparse.Namespace, modes: Sequence[str]) -> int:
    """Print instructions per request for relays and uvicorn, and their ratio."""
    if shutil.which("valgrind") is None:
        print("valgrind is not installed: apt-get install valgrind", file=sys.stderr)
        return 2
    wanted = args.only.split(",") if args.only else ("relays", "uvicorn")
    kinds = [kind for kind in COUNTED if kind in wanted and installed(kind)]
    small, large = args.counts
    print(
        f"instructions per request: valgrind callgrind, {small} and {large} requests,"
        " the difference over the difference",
        file=sys.stderr,
    )
    print(f"{'app':<10} {'mode':<10} " + " ".join(f"{kind:>12}" for kind in kinds) + "  ratio")
    for app in args.apps:
        for mode in modes:
            close = mode == "close"
            figures: dict[str, float] = {}
            for kind in kinds:
                few = count_served(kind, app, small, close)
                many = count_served(kind, app, large, close)
                figures[kind] = (many - few) / (large - small)
            ratio = ""
            if "relays" in figures and "uvicorn" in figures:
                # >= 1.0x: relays runs no more instructions per request than uvicorn.
                ratio = f"{figures['uvicorn'] / figures['relays']:.2f}x"
            row = " ".join(f"{figures[kind]:>12,.0f}" for kind in kinds)
            print(f"{app:<10} {mode:<10} {row}  {ratio}", flush=True)
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--serve", help=argparse.SUPPRESS)
    parser.add_argument("--app", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    _harness.add_wrk_arguments(
        parser, only_help=f"comma-separated servers out of {', '.join(SERVERS)}"
    )
    parser.add_argument(
        "--instructions",
        action="store_true",
        help="count instructions per request under valgrind, relays and uvicorn",
    )
    parser.add_argument(
        "--apps", default=",".join(APPS), help="with --instructions: apps to count"
    )
    parser.add_argument(
        "--counts",
        default="200,1200",
        help="with --instructions: the small and the large number of requests",
    )
    args = parser.parse_args()
    if args.serve:
        serve(args.serve, args.app, args.port)
        return 0
    options = _harness.wrk_options(args)
    if args.instructions:
        args.apps = [app.strip() for app in args.apps.split(",") if app.strip()]
        args.counts = [int(number) for number in args.counts.split(",")]
        if len(args.counts) != 2 or args.counts[0] >= args.counts[1]:
            parser.error("--counts takes two numbers, the smaller first: 200,1200")
        unknown_apps = [app for app in args.apps if app not in APPS + EXTRA_APPS]
        if unknown_apps:
            choices = ", ".join(APPS + EXTRA_APPS)
            parser.error(f"unknown apps {unknown_apps}; choose from {choices}")
        return count_instructions(args, options.modes)
    if shutil.which("wrk") is None:
        print("wrk is not installed: apt-get install wrk", file=sys.stderr)
        return 2
    kinds = _harness.choose_servers(
        parser, args.only, known=SERVERS, default=SERVERS, installed=installed
    )
    print(
        f"wrk -t1 -c{options.connections}, {options.seconds:g} s per run, best of "
        f"{options.repeat}; server on CPU {options.server_cpu}, wrk on CPU {options.client_cpu}",
        file=sys.stderr,
    )
    results = measure(kinds, options)
    report(results, options.modes)
    return 0


if __name__ == "__main__":
    sys.exit(main())
