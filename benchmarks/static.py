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

import os
import sys

# benchmarks/ holds http.py, which would shadow the standard library's http package for
# everything imported below (aiohttp, relays_http) when this file is run as a script.
_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [path for path in sys.path if os.path.abspath(path or ".") != _HERE]

import argparse  # noqa: E402
import re  # noqa: E402
import shutil  # noqa: E402
import socket  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402

SERVERS = ("relays", "nginx", "aiohttp")
SMALL = "small.bin"
LARGE = "large.bin"
SMALL_SIZE = 4 * 1024
LARGE_SIZE = 100 * 1024 * 1024
NGINX = shutil.which("nginx") or ("/usr/sbin/nginx" if os.path.exists("/usr/sbin/nginx") else None)

NGINX_CONF = """
daemon off;
master_process off;
worker_processes 1;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    sendfile on;
    tcp_nopush on;
    keepalive_requests 1000000;
    client_body_temp_path {prefix}/body;
    proxy_temp_path {prefix}/proxy;
    fastcgi_temp_path {prefix}/fastcgi;
    uwsgi_temp_path {prefix}/uwsgi;
    scgi_temp_path {prefix}/scgi;
    types {{ application/octet-stream bin; }}
    server {{
        listen 127.0.0.1:{port};
        root {docroot};
        etag on;
    }}
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


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def pinned(command: list[str], cpu: int | None) -> list[str]:
    if cpu is None or shutil.which("taskset") is None:
        return command
    return ["taskset", "-c", str(cpu), *command]


def installed(kind: str) -> bool:
    if kind == "nginx":
        return NGINX is not None
    module = {"relays": "relays_static", "aiohttp": "aiohttp"}[kind]
    try:
        __import__(module)
    except ImportError:
        return False
    return True


class Running:
    """One server process pinned to the server CPU, listening on its own port."""

    def __init__(self, kind: str, docroot: str, scratch: str, cpu: int | None) -> None:
        self.port = free_port()
        if kind == "nginx":
            assert NGINX is not None
            prefix = os.path.join(scratch, "nginx")
            os.makedirs(prefix, exist_ok=True)
            config = os.path.join(prefix, "nginx.conf")
            with open(config, "w") as file:
                file.write(NGINX_CONF.format(prefix=prefix, port=self.port, docroot=docroot))
            command = [NGINX, "-p", prefix, "-c", config, "-e", os.path.join(prefix, "error.log")]
        else:
            command = [
                sys.executable,
                __file__,
                "--serve",
                kind,
                "--port",
                str(self.port),
                "--docroot",
                docroot,
            ]
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

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(10)
        if self.process.stderr is not None:
            self.process.stderr.close()


_SIZES = {"B": 1, "KB": 1024, "MB": 1024**2, "GB": 1024**3, "TB": 1024**4}


def run_wrk(
    port: int, path: str, seconds: float, connections: int, cpu: int | None
) -> tuple[float, float, int]:
    """``(requests/s, MB/s, errors)`` of one wrk run."""
    command = [
        "wrk",
        "-t1",
        f"-c{connections}",
        f"-d{max(1, round(seconds))}s",
        "--timeout",
        "10s",
        f"http://127.0.0.1:{port}/{path}",
    ]
    output = subprocess.run(
        pinned(command, cpu), capture_output=True, text=True, check=True
    ).stdout
    rate_match = re.search(r"Requests/sec:\s+([\d.]+)", output)
    transfer = re.search(r"Transfer/sec:\s+([\d.]+)(B|KB|MB|GB|TB)", output)
    if rate_match is None or transfer is None:
        raise RuntimeError(f"cannot read wrk's output:\n{output}")
    megabytes = float(transfer.group(1)) * _SIZES[transfer.group(2)] / 1e6
    errors = 0
    for pattern in (r"Non-2xx or 3xx responses: (\d+)", r"Socket errors: .*?(\d+)"):
        found = re.search(pattern, output)
        if found:
            errors += int(found.group(1))
    return float(rate_match.group(1)), megabytes, errors


def measure(kinds: list[str], args: argparse.Namespace) -> dict[str, tuple[float, float]]:
    """Best requests/s (small file) and MB/s (large file) of each server.

    All servers run at once (idle ones cost nothing) and the rounds alternate between
    them, so a burst of load from elsewhere on the machine hurts them all alike.
    """
    cpus = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
    server_cpu, client_cpu = (cpus[0], cpus[1]) if len(cpus) >= 2 else (None, None)
    best = {kind: [0.0, 0.0] for kind in kinds}
    with tempfile.TemporaryDirectory() as scratch:
        docroot = os.path.join(scratch, "docroot")
        os.makedirs(docroot)
        os.chmod(scratch, 0o755)
        make_docroot(docroot)
        running = {}
        try:
            for kind in kinds:
                running[kind] = Running(kind, docroot, scratch, server_cpu)
                run_wrk(running[kind].port, SMALL, 1, 10, client_cpu)  # warm up
            for round_number in range(1, args.repeat + 1):
                for kind in kinds:
                    port = running[kind].port
                    rate, _, errors = run_wrk(port, SMALL, args.seconds, 50, client_cpu)
                    _, speed, large_errors = run_wrk(port, LARGE, args.seconds, 2, client_cpu)
                    if errors or large_errors:
                        print(f"  {kind}: {errors + large_errors} errors", file=sys.stderr)
                    best[kind] = [max(best[kind][0], rate), max(best[kind][1], speed)]
                    print(
                        f"  round {round_number} {kind}: {rate:,.0f} req/s, {speed:,.0f} MB/s",
                        flush=True,
                    )
        finally:
            for server in running.values():
                server.stop()
    return {kind: (rate, speed) for kind, (rate, speed) in best.items()}


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
    kinds = [kind for kind in wanted if kind in SERVERS and installed(kind)]
    for kind in wanted:
        if kind not in kinds:
            print(f"skipping {kind}: not installed", file=sys.stderr)
    print(f"static files, wrk for {args.seconds:g}s, best of {args.repeat}:", flush=True)
    report(measure(kinds, args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
