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

import os
import sys

# Running a script from benchmarks/ puts that folder first on sys.path, where its http.py
# would shadow the standard library's http package (urllib.request imports it).
_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [path for path in sys.path if os.path.abspath(path or ".") != _HERE]

import argparse  # noqa: E402
import gzip  # noqa: E402
import json  # noqa: E402
import re  # noqa: E402
import shutil  # noqa: E402
import socket  # noqa: E402
import subprocess  # noqa: E402
import time  # noqa: E402
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


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def pinned(command: list[str], cpu: int | None) -> list[str]:
    if cpu is None or shutil.which("taskset") is None:
        return command
    return ["taskset", "-c", str(cpu), *command]


class Running:
    """One server in its own pinned process."""

    def __init__(self, kind: str, cpu: int | None) -> None:
        self.kind = kind
        self.port = free_port()
        command = [sys.executable, __file__, "--serve", kind, "--port", str(self.port)]
        self.process = subprocess.Popen(
            pinned(command, cpu), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                error = self.process.stderr.read().decode() if self.process.stderr else ""
                raise RuntimeError(f"{kind} exited: {error[-2000:]}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"{kind} did not start listening")

    def fetch(self, path: str) -> bytes:
        """The compressed body of *path*, checked to decode to what the page makes."""
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.port}/{path}", headers={"Accept-Encoding": "gzip"}
        )
        with urllib.request.urlopen(request, timeout=10) as reply:
            body: bytes = reply.read()
            coding = reply.headers.get("Content-Encoding")
        if coding != "gzip":
            raise RuntimeError(f"{self.kind} did not compress /{path}")
        text = gzip.decompress(body).decode()
        expected = make_page() if path == "page" else make_document()
        if (text if path == "page" else json.loads(text)) != expected:
            raise RuntimeError(f"{self.kind} sent another /{path}")
        return body

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(10)
        if self.process.stderr is not None:
            self.process.stderr.close()


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system, all threads) used so far by process *pid* (Linux)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
            fields = stat.read().rpartition(")")[2].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run_wrk(port: int, path: str, seconds: float, cpu: int | None) -> tuple[float, int, int]:
    """``(requests/s, errors, requests)`` of one wrk run with 50 keep-alive connections."""
    command = [
        "wrk",
        "-t1",
        "-c50",
        f"-d{max(1, round(seconds))}s",
        "--timeout",
        "10s",
        "-H",
        "Accept-Encoding: gzip",
        f"http://127.0.0.1:{port}/{path}",
    ]
    output = subprocess.run(
        pinned(command, cpu), capture_output=True, text=True, check=True
    ).stdout
    rate = re.search(r"Requests/sec:\s+([\d.]+)", output)
    total = re.search(r"(\d+) requests in", output)
    if rate is None or total is None:
        raise RuntimeError(f"cannot read wrk's output:\n{output}")
    errors = 0
    for pattern in (r"Non-2xx or 3xx responses: (\d+)", r"Socket errors: .*?(\d+)"):
        found = re.search(pattern, output)
        if found:
            errors += int(found.group(1))
    return float(rate.group(1)), errors, int(total.group(1))


def measure(
    kinds: list[str], args: argparse.Namespace
) -> tuple[dict[str, dict[str, float]], dict[str, dict[str, int]], dict[str, dict[str, float]]]:
    cpus = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
    server_cpu, client_cpu = (cpus[0], cpus[1]) if len(cpus) >= 2 else (None, None)
    best = {kind: dict.fromkeys(PATHS, 0.0) for kind in kinds}
    # CPU microseconds per request, lowest of the rounds: on a shared machine this
    # moves less than requests/s (a server whose extra threads get extra CPU shares
    # looks faster by the wall clock than by the work it does).
    cost = {kind: dict.fromkeys(PATHS, float("inf")) for kind in kinds}
    sizes: dict[str, dict[str, int]] = {}
    running: dict[str, Running] = {}
    try:
        for kind in kinds:
            running[kind] = Running(kind, server_cpu)
            sizes[kind] = {path: len(running[kind].fetch(path)) for path in PATHS}
            run_wrk(running[kind].port, "page", 1, client_cpu)  # warm up
        for round_number in range(1, args.repeat + 1):
            for kind in kinds:
                for path in PATHS:
                    pid = running[kind].process.pid
                    used = cpu_seconds(pid)
                    rate, errors, total = run_wrk(
                        running[kind].port, path, args.seconds, client_cpu
                    )
                    if total:
                        per = (cpu_seconds(pid) - used) / total * 1e6
                        cost[kind][path] = min(cost[kind][path], per)
                    if errors:
                        print(f"  {kind} /{path}: {errors} errors", file=sys.stderr)
                    best[kind][path] = max(best[kind][path], rate)
                    print(f"  round {round_number} {kind} /{path}: {rate:,.0f} req/s", flush=True)
    finally:
        for server in running.values():
            server.stop()
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
    kinds = [kind for kind in wanted if kind in SERVERS and installed(kind)]
    for kind in wanted:
        if kind not in kinds:
            print(f"skipping {kind}: not installed", file=sys.stderr)
    print(f"dynamic gzip, wrk for {args.seconds:g}s, best of {args.repeat}:", flush=True)
    report(*measure(kinds, args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
