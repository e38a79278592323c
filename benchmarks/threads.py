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

import argparse
import importlib.util
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

HERE = Path(__file__).resolve().parent
HELLO = b"Hello, World!"
#: How long each page blocks, in seconds.
PAGE_SLEEP = 0.010
SERVERS = ("relays-threads", "cheroot")
#: relays must reach this ratio to cheroot's requests/s.
TARGET = 1.0


def _http_harness() -> ModuleType:
    """benchmarks/http.py's wrk runner and process helpers (loaded by path: the module's
    name would shadow the standard library's ``http``)."""
    spec = importlib.util.spec_from_file_location("relays_bench_http", HERE / "http.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


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


class Running:
    def __init__(self, harness: ModuleType, kind: str, threads: int, cpu: int | None) -> None:
        self.harness = harness
        self.kind = kind
        self.port = harness.free_port()
        command = [
            sys.executable,
            "-P",  # benchmarks/ first on sys.path would shadow the standard library's http
            str(Path(__file__).resolve()),
            "--serve",
            kind,
            "--port",
            str(self.port),
            "--threads",
            str(threads),
        ]
        self.process = subprocess.Popen(
            harness.pinned(command, cpu), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )

    def wait(self) -> bool:
        if self.harness.wait_listening(self.port, self.process):
            return True
        error = ""
        if self.process.poll() is not None and self.process.stderr is not None:
            error = self.process.stderr.read().decode().strip()[-300:]
        print(f"  {self.kind}: did not start {error}", file=sys.stderr)
        return False

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        if self.process.stderr is not None:
            self.process.stderr.close()


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

    harness = _http_harness()
    import shutil

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
    servers = [Running(harness, kind, args.threads, args.server_cpu) for kind in SERVERS]
    best: dict[str, tuple[float, float, int, float]] = {}
    try:
        ready = [server for server in servers if server.wait()]
        for _round in range(repeat):
            for server in ready:
                result = harness.run_wrk(
                    server.port,
                    seconds,
                    args.connections,
                    False,
                    args.client_cpu,
                    server.process.pid,
                )
                if server.kind not in best or result[0] > best[server.kind][0]:
                    best[server.kind] = result
    finally:
        for server in servers:
            server.stop()
    print(f"{'server':<16} {'req/s':>8} {'p99 ms':>8} {'errors':>7} {'us CPU/req':>11}")
    for kind, (rate, p99, errors, cpu) in best.items():
        print(f"{kind:<16} {rate:>8.0f} {p99:>8.1f} {errors:>7} {cpu:>11.0f}")
    if "relays-threads" in best and "cheroot" in best:
        ratio = best["relays-threads"][0] / best["cheroot"][0]
        verdict = "PASS" if ratio >= TARGET else "MISS"
        print(f"# relays / cheroot: {ratio:.2f}x (target {TARGET:g}x) {verdict}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
