#!/usr/bin/env python3
"""Dynamic gzip compression: relays-http's Compression next to aiohttp's, driven by ``wrk``.

Each server answers ``GET /page`` with the same 32 KiB HTML page and ``GET /json``
with the same 2 KiB JSON document, made by the page code on every request, and
compresses them with gzip at level 6 for a client that sends ``Accept-Encoding:
gzip`` (``wrk -H``). Every server runs in its own process pinned to one CPU, wrk
pinned to another; the rounds alternate between servers, and the best of them
counts. The table gives requests/s, the server's CPU time per request (user + system,
all its threads: steadier than requests/s on a shared machine), the compressed size each
server sent (checked to decode to the same page), and relays' ratios to each peer, all
from the same run.

Peers: aiohttp (``Response.enable_compression()``) and CherryPy's ``gzip`` tool on
cheroot, when installed.

Usage (see benchmarks/README.md)::

    apt-get install wrk
    .venv/bin/python benchmarks/compression.py [--seconds 5] [--repeat 3] [--quick]
"""

from __future__ import annotations

import _harness  # before the path is cleaned: benchmarks/ is where it lives

_harness.unshadow_standard_library()

import argparse  # noqa: E402
import gzip  # noqa: E402
import json  # noqa: E402
import shutil  # noqa: E402
import sys  # noqa: E402
import urllib.request  # noqa: E402

SERVERS = ("relays", "aiohttp", "cherrypy")
NEEDS = {"relays": "relays_http", "aiohttp": "aiohttp", "cherrypy": "cherrypy"}
PATHS = ("page", "json")


def make_page() -> str:
    rows = "".join(
        f"<tr><td>{index}</td><td>item number {index}</td><td>{index * 7 % 100} units</td></tr>\n"
        for index in range(400)
    )
    return f"<!doctype html><html><body><table>\n{rows}</table></body></html>\n"[: 32 * 1024]


def make_document() -> dict[str, object]:
    return {"items": [{"id": index, "name": f"item {index}"} for index in range(70)]}


def serve_relays(port: int) -> None:
    from relays import Component
    from relays_http import Compression, Request, Response, Server

    class Pages(Component):
        channel = "web"

        def request(self, request: Request, response: Response) -> object:
            if request.path == "/page":
                return make_page()
            return make_document()

    server = Server(f"tcp://127.0.0.1:{port}") + Compression(encodings=["gzip"]) + Pages()
    server.run()


def serve_aiohttp(port: int) -> None:
    from aiohttp import web

    async def page(request: web.Request) -> web.Response:
        response = web.Response(text=make_page(), content_type="text/html")
        response.enable_compression()
        return response

    async def document(request: web.Request) -> web.Response:
        response = web.json_response(make_document())
        response.enable_compression()
        return response

    app = web.Application()
    app.router.add_get("/page", page)
    app.router.add_get("/json", document)
    web.run_app(app, host="127.0.0.1", port=port, print=None, access_log=None)


def serve_cherrypy(port: int) -> None:
    import cherrypy

    class Root:
        @cherrypy.expose
        def page(self) -> str:
            return make_page()

        @cherrypy.expose
        @cherrypy.tools.json_out()
        def json(self) -> dict[str, object]:
            return make_document()

    cherrypy.config.update(
        {
            "server.socket_host": "127.0.0.1",
            "server.socket_port": port,
            "server.thread_pool": 10,
            "environment": "production",
            "log.screen": False,
        }
    )
    config = {
        "/": {
            "tools.gzip.on": True,
            "tools.gzip.mime_types": ["text/*", "application/json"],
            "tools.gzip.compress_level": 6,
        }
    }
    cherrypy.quickstart(Root(), "/", config)


def installed(kind: str) -> bool:
    try:
        __import__(NEEDS[kind])
    except ImportError:
        return False
    return True


def start(kind: str, cpu: int | None) -> _harness.ServerProcess:
    port = _harness.free_port()
    command = [sys.executable, __file__, "--serve", kind, "--port", str(port)]
    return _harness.ServerProcess(kind, command, port=port, cpu=cpu)


def fetch(server: _harness.ServerProcess, path: str) -> bytes:
    """The compressed body of *path*, checked to decode to what the page makes."""
    request = urllib.request.Request(
        f"http://127.0.0.1:{server.port}/{path}", headers={"Accept-Encoding": "gzip"}
    )
    with urllib.request.urlopen(request, timeout=10) as reply:
        body: bytes = reply.read()
        coding = reply.headers.get("Content-Encoding")
    if coding != "gzip":
        raise RuntimeError(f"{server.name} did not compress /{path}")
    text = gzip.decompress(body).decode()
    expected = make_page() if path == "page" else make_document()
    if (text if path == "page" else json.loads(text)) != expected:
        raise RuntimeError(f"{server.name} sent another /{path}")
    return body


def measure(
    kinds: list[str], args: argparse.Namespace
) -> tuple[dict[str, dict[str, float]], dict[str, dict[str, int]], dict[str, dict[str, float]]]:
    server_cpu, client_cpu = _harness.server_and_client_cpus()

    def load(server: _harness.ServerProcess, path: str, seconds: float) -> _harness.WrkResult:
        return _harness.run_wrk(
            f"http://127.0.0.1:{server.port}/{path}",
            seconds=seconds,
            connections=50,
            cpu=client_cpu,
            server_pid=server.pid,
            headers=["Accept-Encoding: gzip"],
        )

    def measure_round(
        number: int, server: _harness.ServerProcess
    ) -> dict[str, _harness.WrkResult]:
        results = {path: load(server, path, args.seconds) for path in PATHS}
        for path, result in results.items():
            if result.errors:
                print(f"  {server.name} /{path}: {result.errors} errors", file=sys.stderr)
            print(f"  round {number} {server.name} /{path}: {result.rate:,.0f} req/s", flush=True)
        return results

    with _harness.running(lambda kind=kind: start(kind, server_cpu) for kind in kinds) as ready:
        sizes = {s.name: {path: len(fetch(s, path)) for path in PATHS} for s in ready}
        for server in ready:
            load(server, "page", 1)  # warm up
        outcomes = _harness.rounds(args.repeat, ready, measure_round)
    # The best rate of the rounds, and the least CPU per request of any: on a shared
    # machine CPU moves less than requests/s (a server whose extra threads get extra CPU
    # shares looks faster by the wall clock than by the work it does).
    best = {
        s.name: {path: max(r[path].rate for r in results) for path in PATHS}
        for s, results in outcomes.items()
    }
    cost = {
        s.name: {path: min(r[path].cpu_us_per_request for r in results) for path in PATHS}
        for s, results in outcomes.items()
    }
    return best, sizes, cost


def report(
    best: dict[str, dict[str, float]],
    sizes: dict[str, dict[str, int]],
    cost: dict[str, dict[str, float]],
) -> None:
    print()
    print(
        f"| {'server':<8} | {'32 KiB page req/s':>17} | {'µs CPU/req':>10} | {'gzip bytes':>10} "
        f"| {'2 KiB JSON req/s':>16} | {'µs CPU/req':>10} | {'gzip bytes':>10} |"
    )
    print(f"|{'-' * 10}|{'-' * 19}|{'-' * 12}|{'-' * 12}|{'-' * 18}|{'-' * 12}|{'-' * 12}|")
    for kind, rates in best.items():
        print(
            f"| {kind:<8} | {rates['page']:>17,.0f} | {cost[kind]['page']:>10,.0f} "
            f"| {sizes[kind]['page']:>10,} | {rates['json']:>16,.0f} "
            f"| {cost[kind]['json']:>10,.0f} | {sizes[kind]['json']:>10,} |"
        )
    relays = best.get("relays")
    if relays is None:
        return
    print()
    print(
        f"| {'relays vs':<10} | {'page req/s':>10} | {'page CPU':>8} "
        f"| {'JSON req/s':>10} | {'JSON CPU':>8} |"
    )
    print(f"|{'-' * 12}|{'-' * 12}|{'-' * 10}|{'-' * 12}|{'-' * 10}|")
    for peer, rates in best.items():
        if peer == "relays":
            continue
        cells = []
        for path in PATHS:
            cells.append(relays[path] / rates[path] if rates[path] else 0.0)
            # CPU as a speed ratio too: above 1.0x, relays does the work in less CPU.
            cells.append(cost[peer][path] / cost["relays"][path] if cost["relays"][path] else 0.0)
        print(
            f"| {peer:<10} | {cells[0]:>9.2f}x | {cells[1]:>7.2f}x "
            f"| {cells[2]:>9.2f}x | {cells[3]:>7.2f}x |"
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="length of each wrk run")
    parser.add_argument("--repeat", type=int, default=3, help="best of this many rounds")
    parser.add_argument("--only", help="comma-separated servers: " + ",".join(SERVERS))
    parser.add_argument("--quick", action="store_true", help="one short run each (smoke test)")
    parser.add_argument("--serve", choices=SERVERS, help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        {"relays": serve_relays, "aiohttp": serve_aiohttp, "cherrypy": serve_cherrypy}[args.serve](
            args.port
        )
        return 0
    if shutil.which("wrk") is None:
        print("compression.py needs wrk: apt-get install wrk", file=sys.stderr)
        return 2
    if args.quick:
        args.seconds, args.repeat = 1.0, 1
    wanted = args.only.split(",") if args.only else list(SERVERS)
    kinds = _harness.choose_installed(wanted, SERVERS, installed)
    print(f"dynamic gzip, wrk for {args.seconds:g}s, best of {args.repeat}:", flush=True)
    report(*measure(kinds, args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
