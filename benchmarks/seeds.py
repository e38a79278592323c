#!/usr/bin/env python3
"""The seeds' programming models, next to the originals, driven by ``wrk``.

A hello resource on relays-resources against the same resource on twisted.web, and a
hello servlet on relays-servlets against the same servlet on Webware for Python 3
served by waitress. Each server runs in its own process pinned to one CPU and
``wrk`` on another, with keep-alive and with ``Connection: close``, best of
``--repeat`` rounds, as benchmarks/http.py does (its driver is reused). The table
gives requests/s, p99 latency, server CPU per request, and relays' ratio to its peer.
Target: at least 2x both peers in both modes.

Usage (see benchmarks/README.md)::

    apt-get install wrk
    .venv/bin/pip install -r benchmarks/requirements-seeds.txt
    .venv/bin/python benchmarks/seeds.py [--seconds 5] [--repeat 3]
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import shutil
import subprocess
import sys
import tempfile
from types import ModuleType

HERE = os.path.dirname(os.path.abspath(__file__))
HELLO = "Hello, World!"
#: server -> the peer it is compared with.
PAIRS = {"relays-resources": "twisted", "relays-servlets": "webware"}
SERVERS = ("relays-resources", "twisted", "relays-servlets", "webware")
NEEDS = {
    "relays-resources": ("relays_resources",),
    "twisted": ("twisted",),
    "relays-servlets": ("relays_servlets",),
    "webware": ("webware", "waitress"),
}
TARGET = 2.0
SERVLET = (
    "from {base} import {kind}\n\n\n"
    "class Main({kind}):\n"
    "    def respondToGet(self, transaction):\n"
    "        transaction.response().setHeader('Content-Type', 'text/plain')\n"
    f"        transaction.response().write({HELLO!r})\n"
)


def http_driver() -> ModuleType:
    """benchmarks/http.py, loaded under another name (it would shadow ``http``)."""
    spec = importlib.util.spec_from_file_location(
        "bench_http_driver", os.path.join(HERE, "http.py")
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


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


def serve(kind: str, port: int) -> None:
    directory = tempfile.mkdtemp(prefix=f"seeds-{kind}-")
    try:
        if kind == "relays-resources":
            serve_relays_resources(port)
        elif kind == "twisted":
            serve_twisted(port)
        elif kind == "relays-servlets":
            serve_relays_servlets(port, directory)
        elif kind == "webware":
            serve_webware(port, directory)
        else:
            raise SystemExit(f"unknown server {kind!r}")
    finally:
        shutil.rmtree(directory, ignore_errors=True)


class Running:
    """One server process of this file, pinned to the server CPU."""

    def __init__(self, driver: ModuleType, kind: str, cpu: int | None) -> None:
        self.driver = driver
        self.kind = kind
        self.port = driver.free_port()
        command = [sys.executable, "-P", __file__, "--serve", kind, "--port", str(self.port)]
        self.process = subprocess.Popen(
            driver.pinned(command, cpu), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )

    def wait(self) -> bool:
        if self.driver.wait_listening(self.port, self.process, timeout=30.0):
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
    parser.add_argument("--serve", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--seconds", type=float, default=5.0, help="length of each wrk run")
    parser.add_argument("--connections", type=int, default=50, help="wrk connections")
    parser.add_argument("--repeat", type=int, default=3, help="rounds; the best one counts")
    parser.add_argument("--server-cpu", type=int, default=0, help="CPU the server is pinned to")
    parser.add_argument("--client-cpu", type=int, default=1, help="CPU wrk is pinned to")
    args = parser.parse_args()
    if args.serve:
        serve(args.serve, args.port)
        return 0
    if shutil.which("wrk") is None:
        print("wrk is not installed: apt-get install wrk", file=sys.stderr)
        return 1
    driver = http_driver()
    kinds = [
        kind
        for kind in SERVERS
        if all(importlib.util.find_spec(name) is not None for name in NEEDS[kind])
    ]
    modes = ("keep-alive", "close")
    results: dict[str, dict[str, tuple[float, float, int, float]]] = {}
    servers = [Running(driver, kind, args.server_cpu) for kind in kinds]
    try:
        ready = [server for server in servers if server.wait()]
        for server in ready:  # warm up
            for mode in modes:
                driver.run_wrk(
                    server.port,
                    1,
                    args.connections,
                    mode == "close",
                    args.client_cpu,
                    server.process.pid,
                )
        for _ in range(args.repeat):
            for server in ready:
                for mode in modes:
                    result = driver.run_wrk(
                        server.port,
                        args.seconds,
                        args.connections,
                        mode == "close",
                        args.client_cpu,
                        server.process.pid,
                    )
                    best = results.setdefault(server.kind, {}).get(mode)
                    if best is None or result[0] > best[0]:
                        results[server.kind][mode] = result
    finally:
        for server in servers:
            server.stop()
    print(
        f"{'server':<18} {'mode':<11} {'req/s':>9} {'p99 ms':>8} {'us CPU/req':>10} "
        f"{'errors':>6}  ratio"
    )
    missed = []
    for kind in SERVERS:
        for mode in modes:
            if mode not in results.get(kind, {}):
                continue
            rate, p99, errors, cpu = results[kind][mode]
            ratio = ""
            peer = PAIRS.get(kind)
            if peer is not None and mode in results.get(peer, {}):
                value = rate / results[peer][mode][0]
                ratio = f"{value:.2f}x {peer}"
                if value < TARGET:
                    missed.append(f"{kind} {mode}: {value:.2f}x {peer} (target {TARGET}x)")
            print(
                f"{kind:<18} {mode:<11} {rate:>9.0f} {p99:>8.2f} {cpu:>10.1f} {errors:>6}  {ratio}"
            )
    for line in missed:
        print(f"below target: {line}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
