#!/usr/bin/env python3
"""The seeds' programming models, next to the originals, driven by ``wrk``.

A hello resource on relays-resources against the same resource on twisted.web, and a
hello servlet on relays-servlets against the same servlet on Webware for Python 3
served by waitress. Each server runs in its own process pinned to one CPU and
``wrk`` on another, with keep-alive and with ``Connection: close``, best of
``--repeat`` rounds, as benchmarks/http.py does (its driver is reused). The table
gives requests/s, p99 latency, server CPU per request (split into user space, the
server's own code, and system time, the OS's: accept, read, write, close), and relays'
ratio to its peer.
Target: at least 2x both peers in both modes. A plain relays-http controller answering
the same hello is measured in the same run (``relays-http``): both models add their
layer on top of it, and in the close mode they share its accept path.

``--instructions`` counts machine instructions per keep-alive request instead, under
valgrind, over relays' in-memory transport (no sockets, no wrk): the hello resource,
the hello servlet and a plain relays-http controller page, so each model's own layer
is the difference to the controller row, whatever the machine's load.
``--close-instructions`` counts instructions per ``Connection: close`` request of every
server, peers included, over real sockets: each server runs under valgrind while one
client asks it 100, then 400 times, one connection each (user space only).

Usage (see benchmarks/README.md)::

    apt-get install wrk
    .venv/bin/pip install -r benchmarks/requirements-seeds.txt
    .venv/bin/python benchmarks/seeds.py [--seconds 5] [--repeat 3]
    .venv/bin/python -P benchmarks/seeds.py --instructions
    .venv/bin/python -P benchmarks/seeds.py --close-instructions
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
from typing import Any

HERE = os.path.dirname(os.path.abspath(__file__))
HELLO = "Hello, World!"
#: server -> the peer it is compared with.
PAIRS = {"relays-resources": "twisted", "relays-servlets": "webware"}
#: relays-http's own controller: the floor both models stand on (the close mode's
#: accept path is shared), shown for reference.
FLOOR = "relays-http"
SERVERS = ("relays-resources", "twisted", "relays-servlets", "webware", FLOOR)
NEEDS = {
    FLOOR: ("relays_http",),
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


def serve(kind: str, port: int) -> None:
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


CLOSE_REQUEST = b"GET / HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n"


def ask_closing(port: int, count: int) -> None:
    """*count* requests, one per connection (``Connection: close``), one after another."""
    import socket

    for _ in range(count):
        with socket.create_connection(("127.0.0.1", port)) as sock:
            sock.sendall(CLOSE_REQUEST)
            answer = b""
            while chunk := sock.recv(65536):
                answer += chunk
        if not answer.startswith(b"HTTP/1.1 200") or HELLO.encode() not in answer:
            raise RuntimeError(f"unexpected answer: {answer[:200]!r}")


def served_instructions(driver: ModuleType, kind: str, connections: int) -> int:
    """Instructions a server of *kind* runs, start to end, answering *connections*
    close-mode requests (valgrind counts user space: the kernel's share is not in it)."""
    port = driver.free_port()
    command = [
        "valgrind",
        "--tool=callgrind",
        "--callgrind-out-file=/dev/null",
        sys.executable,
        "-P",
        os.path.abspath(__file__),
        "--serve",
        kind,
        "--port",
        str(port),
    ]
    with tempfile.TemporaryFile() as errors:
        process = subprocess.Popen(
            command,
            stdout=subprocess.DEVNULL,
            stderr=errors,
            env={**os.environ, "PYTHONHASHSEED": "0"},
        )
        try:
            if not driver.wait_listening(port, process, timeout=600.0):
                raise RuntimeError(f"{kind} did not start under valgrind")
            ask_closing(port, connections)
        finally:
            process.terminate()
            process.wait(600)
        errors.seek(0)
        output = errors.read().decode(errors="replace")
    import instructions

    match = instructions._TOTAL.search(output)
    if match is None:
        raise RuntimeError(f"no instruction total for {kind}:\n{output[-2000:]}")
    return int(match.group(1).replace(",", ""))


def count_close_instructions(small: int, large: int) -> None:
    """Instructions per close-mode connection, every server, over real sockets."""
    sys.path.insert(0, HERE)
    import instructions

    if not instructions.available():
        sys.exit("valgrind is not installed: apt-get install valgrind")
    driver = http_driver()
    rows = {}
    for kind in (FLOOR, "relays-resources", "relays-servlets", "twisted", "webware"):
        if not all(importlib.util.find_spec(name) is not None for name in NEEDS[kind]):
            continue
        few = served_instructions(driver, kind, small)
        many = served_instructions(driver, kind, large)
        rows[kind] = (many - few) / (large - small)
        print(f"  {kind}: {rows[kind]:,.0f}", file=sys.stderr, flush=True)
    print(f"{'server':<18} {'instructions/connection (close)':>32} {'over relays-http':>17}")
    for kind, per_connection in rows.items():
        layer = (
            "" if kind == FLOOR or FLOOR not in rows else f"{per_connection - rows[FLOOR]:+,.0f}"
        )
        print(f"{kind:<18} {per_connection:>32,.0f} {layer:>17}")


def count_instructions() -> None:
    sys.path.insert(0, HERE)
    import instructions

    if not instructions.available():
        sys.exit("valgrind is not installed: apt-get install valgrind")
    rows = {}
    for kind in (FLOOR, "relays-resources", "relays-servlets"):
        script = [sys.executable, "-P", os.path.abspath(__file__), "--count", kind]
        rows[kind] = instructions.per_item(script, 500, 2500)
    print(f"{'server':<18} {'instructions/request':>20} {'layer over relays-http':>24}")
    for kind, per_request in rows.items():
        layer = "" if kind == FLOOR else f"{per_request - rows[FLOOR]:+,.0f}"
        print(f"{kind:<18} {per_request:>20,.0f} {layer:>24}")


def user_and_system_seconds(pid: int) -> tuple[float, float]:
    """CPU time of process *pid* in user space (ours) and in the kernel (the OS's)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rpartition(")")[2].split()
    except OSError:
        return float("nan"), float("nan")
    ticks = os.sysconf("SC_CLK_TCK")
    return int(fields[11]) / ticks, int(fields[12]) / ticks


def measured_run(
    driver: ModuleType, server: Running, args: argparse.Namespace, close: bool
) -> tuple[float, float, int, float, float]:
    """One wrk run: ``(req/s, p99 ms, errors, us CPU/request, user share of the CPU)``."""
    user_before, system_before = user_and_system_seconds(server.process.pid)
    rate, p99, errors, cpu, _system = driver.run_wrk(
        server.port, args.seconds, args.connections, close, args.client_cpu, server.process.pid
    )
    user_after, system_after = user_and_system_seconds(server.process.pid)
    user, system = user_after - user_before, system_after - system_before
    share = user / (user + system) if user + system > 0 else float("nan")
    return rate, p99, errors, cpu, share


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
        if self.driver.wait_listening(self.port, self.process, timeout=90.0):
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
    parser.add_argument("--count", nargs=2, help=argparse.SUPPRESS)
    parser.add_argument(
        "--instructions", action="store_true", help="count instructions per request (valgrind)"
    )
    parser.add_argument(
        "--close-instructions",
        action="store_true",
        help="count instructions per close-mode connection of every server (valgrind)",
    )
    parser.add_argument("--seconds", type=float, default=5.0, help="length of each wrk run")
    parser.add_argument("--connections", type=int, default=50, help="wrk connections")
    parser.add_argument("--repeat", type=int, default=3, help="rounds; the best one counts")
    parser.add_argument("--server-cpu", type=int, default=0, help="CPU the server is pinned to")
    parser.add_argument("--client-cpu", type=int, default=1, help="CPU wrk is pinned to")
    args = parser.parse_args()
    if args.serve:
        serve(args.serve, args.port)
        return 0
    if args.count:
        import asyncio

        asyncio.run(serve_in_memory(args.count[0], int(args.count[1])))
        return 0
    if args.instructions:
        count_instructions()
        return 0
    if args.close_instructions:
        count_close_instructions(100, 400)
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
    results: dict[str, dict[str, tuple[float, float, int, float, float]]] = {}
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
                    result = measured_run(driver, server, args, mode == "close")
                    best = results.setdefault(server.kind, {}).get(mode)
                    if best is None or result[0] > best[0]:
                        results[server.kind][mode] = result
    finally:
        for server in servers:
            server.stop()
    print(
        f"{'server':<18} {'mode':<11} {'req/s':>9} {'p99 ms':>8} {'us CPU/req':>10} "
        f"{'us user':>8} {'us sys':>7} {'errors':>6}  ratio"
    )
    missed = []
    for kind in SERVERS:
        for mode in modes:
            if mode not in results.get(kind, {}):
                continue
            rate, p99, errors, cpu, user_share = results[kind][mode]
            ratio = ""
            if kind == FLOOR:
                ratio = ", ".join(
                    f"{rate / results[peer][mode][0]:.2f}x {peer}"
                    for peer in PAIRS.values()
                    if mode in results.get(peer, {})
                )
            peer = PAIRS.get(kind)
            if peer is not None and mode in results.get(peer, {}):
                value = rate / results[peer][mode][0]
                ratio = f"{value:.2f}x {peer}"
                if value < TARGET:
                    missed.append(f"{kind} {mode}: {value:.2f}x {peer} (target {TARGET}x)")
            user, system = cpu * user_share, cpu * (1 - user_share)
            print(
                f"{kind:<18} {mode:<11} {rate:>9.0f} {p99:>8.2f} {cpu:>10.1f} {user:>8.1f} "
                f"{system:>7.1f} {errors:>6}  {ratio}"
            )
    for line in missed:
        print(f"below target: {line}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
