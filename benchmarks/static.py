#!/usr/bin/env python3
"""Static files: relays-static next to nginx and aiohttp's static route, driven by ``wrk``.

Every server serves the same directory from its own process, pinned to one CPU, and
``wrk`` runs pinned to another. Two rows:

- ``4 KiB``: requests/s for a 4 KiB file over 50 keep-alive connections (the cost
  of path resolution, validators and the response head);
- ``100 MiB``: MB/s for a 100 MiB file over 2 connections (the cost of moving bytes;
  all three use ``sendfile``: relays-static through relays-http's ``FileRegion``).

nginx is the Debian package, started on loopback by this script with a
configuration of its own (one worker, ``sendfile on``, no access log) in a temporary
directory. Servers that are not installed are skipped. Usage (see benchmarks/README.md)::

    apt-get install wrk nginx
    .venv/bin/python benchmarks/static.py [--seconds 5] [--only relays,nginx] [--quick]

Targets: relays at least 0.5x nginx's MB/s on the large file, and at least 1.0x
aiohttp on both rows. The script never fails on figures; it prints PASS or MISS.
"""

from __future__ import annotations

import _harness  # before the path is cleaned: benchmarks/ is where it lives

_harness.unshadow_standard_library()

import argparse  # noqa: E402
import os  # noqa: E402
import shutil  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402

SERVERS = ("relays", "nginx", "aiohttp")
SMALL = "small.bin"
LARGE = "large.bin"
SMALL_SIZE = 4 * 1024
LARGE_SIZE = 100 * 1024 * 1024
#: static.py's part of nginx's configuration (the rest is the harness's).
NGINX_HTTP = """
    sendfile on;
    tcp_nopush on;
    keepalive_requests 1000000;
    types {{ application/octet-stream bin; }}
    server {{
        listen 127.0.0.1:{port};
        root {docroot};
        etag on;
    }}
"""


def serve_relays(port: int, docroot: str) -> None:
    from relays_http import Server
    from relays_static import Static

    (Server(f"tcp://127.0.0.1:{port}") + Static("/", docroot=docroot)).run()


def serve_aiohttp(port: int, docroot: str) -> None:
    from aiohttp import web

    app = web.Application()
    app.router.add_static("/", docroot)
    web.run_app(app, host="127.0.0.1", port=port, print=None, access_log=None)


def make_docroot(folder: str) -> None:
    with open(os.path.join(folder, SMALL), "wb") as file:
        file.write(os.urandom(SMALL_SIZE))
    with open(os.path.join(folder, LARGE), "wb") as file:
        chunk = os.urandom(1024 * 1024)
        for _ in range(LARGE_SIZE // len(chunk)):
            file.write(chunk)


def installed(kind: str) -> bool:
    if kind == "nginx":
        return _harness.NGINX is not None
    module = {"relays": "relays_static", "aiohttp": "aiohttp"}[kind]
    try:
        __import__(module)
    except ImportError:
        return False
    return True


def start(kind: str, docroot: str, scratch: str, cpu: int | None) -> _harness.ServerProcess:
    """*kind* serving *docroot*: nginx with a configuration of its own, the others as
    ``static.py --serve KIND``."""
    port = _harness.free_port()
    if kind == "nginx":
        http = NGINX_HTTP.format(port=port, docroot=docroot)
        return _harness.nginx_server(os.path.join(scratch, "nginx"), port, http, cpu=cpu)
    command = [sys.executable, __file__, "--serve", kind, "--port", str(port)]
    command += ["--docroot", docroot]
    return _harness.ServerProcess(kind, command, port=port, cpu=cpu)


def measure(kinds: list[str], args: argparse.Namespace) -> dict[str, tuple[float, float]]:
    """Best requests/s (small file) and MB/s (large file) of each server.

    All servers run at once (idle ones cost nothing) and the rounds alternate between
    them, so a burst of load from elsewhere on the machine hurts them all alike.
    """
    server_cpu, client_cpu = _harness.server_and_client_cpus()

    def load(
        server: _harness.ServerProcess, path: str, seconds: float, connections: int
    ) -> _harness.WrkResult:
        return _harness.run_wrk(
            f"http://127.0.0.1:{server.port}/{path}",
            seconds=seconds,
            connections=connections,
            cpu=client_cpu,
        )

    def measure_round(number: int, server: _harness.ServerProcess) -> tuple[float, float]:
        small = load(server, SMALL, args.seconds, 50)
        large = load(server, LARGE, args.seconds, 2)
        if small.errors or large.errors:
            print(f"  {server.name}: {small.errors + large.errors} errors", file=sys.stderr)
        rate, speed = small.rate, large.megabytes_per_second
        print(f"  round {number} {server.name}: {rate:,.0f} req/s, {speed:,.0f} MB/s", flush=True)
        return rate, speed

    with tempfile.TemporaryDirectory() as scratch:
        docroot = os.path.join(scratch, "docroot")
        os.makedirs(docroot)
        os.chmod(scratch, 0o755)
        make_docroot(docroot)
        starts = (lambda kind=kind: start(kind, docroot, scratch, server_cpu) for kind in kinds)
        with _harness.running(starts) as ready:
            for server in ready:
                load(server, SMALL, 1, 10)  # warm up
            outcomes = _harness.rounds(args.repeat, ready, measure_round)
    return {
        server.name: (max(rate for rate, _ in results), max(speed for _, speed in results))
        for server, results in outcomes.items()
    }


def report(results: dict[str, tuple[float, float]]) -> None:
    print()
    print(f"| {'server':<8} | {'4 KiB req/s':>12} | {'100 MiB MB/s':>12} |")
    print(f"|{'-' * 10}|{'-' * 14}|{'-' * 14}|")
    for kind, (rate, speed) in results.items():
        print(f"| {kind:<8} | {rate:>12,.0f} | {speed:>12,.0f} |")
    relays = results.get("relays")
    if relays is None:
        return
    print()
    print(f"| {'relays vs':<10} | {'row':<12} | {'ratio':>6} | {'target':>6} | {'':<4} |")
    print(f"|{'-' * 12}|{'-' * 14}|{'-' * 8}|{'-' * 8}|{'-' * 6}|")
    targets = {("nginx", 1): 0.5, ("aiohttp", 0): 1.0, ("aiohttp", 1): 1.0}
    for peer in ("nginx", "aiohttp"):
        if peer not in results:
            continue
        for index, row in enumerate(("4 KiB req/s", "100 MiB MB/s")):
            ratio = relays[index] / results[peer][index] if results[peer][index] else 0.0
            target = targets.get((peer, index))
            verdict = "" if target is None else ("PASS" if ratio >= target else "MISS")
            shown = "-" if target is None else f"{target:.1f}x"
            print(f"| {peer:<10} | {row:<12} | {ratio:>5.2f}x | {shown:>6} | {verdict:<4} |")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="length of each wrk run")
    parser.add_argument("--repeat", type=int, default=3, help="best of this many rounds")
    parser.add_argument("--only", help="comma-separated servers: " + ",".join(SERVERS))
    parser.add_argument("--quick", action="store_true", help="one short run each (smoke test)")
    parser.add_argument("--serve", choices=("relays", "aiohttp"), help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--docroot", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        {"relays": serve_relays, "aiohttp": serve_aiohttp}[args.serve](args.port, args.docroot)
        return 0
    if shutil.which("wrk") is None:
        print("static.py needs wrk: apt-get install wrk", file=sys.stderr)
        return 2
    if args.quick:
        args.seconds, args.repeat = 1.0, 1
    wanted = args.only.split(",") if args.only else list(SERVERS)
    kinds = _harness.choose_installed(wanted, SERVERS, installed)
    print(f"static files, wrk for {args.seconds:g}s, best of {args.repeat}:", flush=True)
    report(measure(kinds, args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
