#!/usr/bin/env python3
"""Blocking pages: relays-http running them in threads next to cheroot, driven by ``wrk``.

Every server answers ``GET /`` with a page that blocks for 10 ms (``time.sleep``, the
stand-in for a synchronous database call) and then says ``Hello, World!``. relays runs
the page in its thread pool (``Controller.thread = True``, the pool sized by
``--threads``); cheroot, CherryPy's WSGI server, runs it in its worker threads, as many
as relays has. With 100 clients at once, the figure is how many of those blocking
requests each answers per second; with N threads neither can pass N / 10 ms. Both run
pinned to one CPU, wrk to another, keep-alive, in alternating rounds of the same run
(the best round counts).

Usage (see benchmarks/README.md)::

    apt-get install wrk
    .venv/bin/pip install cheroot
    .venv/bin/python benchmarks/threads.py [--threads 32] [--connections 100] [--seconds 5]
"""

from __future__ import annotations

import _harness  # before the path is cleaned: benchmarks/ is where it lives

_harness.unshadow_standard_library()

import argparse  # noqa: E402
import importlib.util  # noqa: E402
import shutil  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402

HELLO = b"Hello, World!"
#: How long each page blocks, in seconds.
PAGE_SLEEP = 0.010
SERVERS = ("relays-threads", "cheroot")
#: relays must reach this ratio to cheroot's requests/s.
TARGET = 1.0


# -- the servers: ``threads.py --serve KIND --port N --threads T`` serves until killed ----


def serve_relays(port: int, threads: int) -> None:
    from relays_http import Controller, Server
    from relays_sockets import TCPServer

    class Blocking(Controller):
        thread = True

        def index(self) -> bytes:
            time.sleep(PAGE_SLEEP)
            self.response.headers["Content-Type"] = "text/plain"
            return HELLO

    server = Server(transport=TCPServer(("127.0.0.1", port), channel="web"))
    server.handler_threads = threads
    (server + Blocking()).run()


def serve_cheroot(port: int, threads: int) -> None:
    from cheroot import wsgi

    def app(environ: dict[str, object], start_response: Callable[..., object]) -> list[bytes]:
        time.sleep(PAGE_SLEEP)
        start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "13")])
        return [HELLO]

    wsgi.Server(("127.0.0.1", port), app, numthreads=threads, request_queue_size=1024).start()


def start(kind: str, threads: int, cpu: int | None) -> _harness.ServerProcess:
    port = _harness.free_port()
    command = [sys.executable, __file__, "--serve", kind, "--port", str(port)]
    return _harness.ServerProcess(kind, [*command, "--threads", str(threads)], port=port, cpu=cpu)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--serve", choices=SERVERS, help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--threads", type=int, default=32, help="threads on each side")
    parser.add_argument("--connections", type=int, default=100, help="concurrent clients")
    parser.add_argument("--seconds", type=float, default=5.0, help="length of each wrk run")
    parser.add_argument("--repeat", type=int, default=3, help="rounds; the best one counts")
    parser.add_argument("--quick", action="store_true", help="one round of 1 s: a smoke test")
    parser.add_argument("--server-cpu", type=int, default=0, help="CPU the server is pinned to")
    parser.add_argument("--client-cpu", type=int, default=1, help="CPU wrk is pinned to")
    args = parser.parse_args()
    if args.serve == "relays-threads":
        serve_relays(args.port, args.threads)
        return 0
    if args.serve == "cheroot":
        serve_cheroot(args.port, args.threads)
        return 0

    if shutil.which("wrk") is None:
        print("wrk is not installed: apt-get install wrk", file=sys.stderr)
        return 2
    if importlib.util.find_spec("cheroot") is None:
        print("cheroot is not installed: .venv/bin/pip install cheroot", file=sys.stderr)
        return 2
    seconds, repeat = (1.0, 1) if args.quick else (args.seconds, args.repeat)
    print(
        f"# a page blocking {PAGE_SLEEP * 1000:g} ms, {args.threads} threads each, wrk -t1 "
        f"-c{args.connections} keep-alive, {seconds:g} s per run, best of {repeat}; "
        f"server on CPU {args.server_cpu}, wrk on CPU {args.client_cpu}",
        flush=True,
    )
    ready, started = _harness.start_all(
        lambda kind=kind: start(kind, args.threads, args.server_cpu) for kind in SERVERS
    )

    def measure(_round: int, server: _harness.ServerProcess) -> _harness.WrkResult:
        return _harness.run_wrk(
            f"http://127.0.0.1:{server.port}/",
            seconds=seconds,
            connections=args.connections,
            cpu=args.client_cpu,
            server_pid=server.pid,
            latency=True,
            timeout="5s",
        )

    try:
        outcomes = _harness.rounds(repeat, ready, measure)
    finally:
        for server in started:
            server.stop()
    best = {
        server.name: max(results, key=lambda result: result.rate)
        for server, results in outcomes.items()
    }
    print(f"{'server':<16} {'req/s':>8} {'p99 ms':>8} {'errors':>7} {'us CPU/req':>11}")
    for kind, result in best.items():
        print(
            f"{kind:<16} {result.rate:>8.0f} {result.p99_ms:>8.1f} {result.errors:>7}"
            f" {result.cpu_us_per_request:>11.0f}"
        )
    if "relays-threads" in best and "cheroot" in best:
        ratio = best["relays-threads"].rate / best["cheroot"].rate
        verdict = "PASS" if ratio >= TARGET else "MISS"
        print(f"# relays / cheroot: {ratio:.2f}x (target {TARGET:g}x) {verdict}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
