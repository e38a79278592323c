#!/usr/bin/env python3
"""HTTP clients: relays' Session next to aiohttp's ClientSession and httpx's AsyncClient.

50 concurrent workers fetch a small page over keep-alive from nginx (the Debian package,
one worker process, pinned to CPU 0, started by this script with its own configuration in
a temporary directory). Each client runs in a process of its own pinned to CPU 1, so the
client, not nginx, is what is measured: nginx answers a small page in a few microseconds.

Rounds: each round runs every client once, in turn, so a change in the machine's load
meets all alike; the best round counts. For each client: requests/s (wall clock), and the
client process's CPU time per request (the least of all rounds; it moves much less than
requests/s on a shared machine). Ratios are relays' requests/s over each peer's.

    apt-get install nginx
    .venv/bin/python benchmarks/client.py [--seconds 3] [--rounds 3] [--workers 50]
        [--only relays,aiohttp] [--quick]

Targets: relays at least 1.0x aiohttp and at least 2x httpx. The script never fails on
figures; it prints PASS or MISS.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import json
import resource
import subprocess
import sys
import tempfile
import time
from typing import Any

import _harness

CLIENTS = ("relays", "relays-uvloop", "aiohttp", "httpx")
TARGETS = {"aiohttp": 1.0, "httpx": 2.0}
PAGE = "Hello, World! " * 8  # a small page: 112 bytes
#: client.py's part of nginx's configuration (the rest is the harness's).
NGINX_HTTP = """
    keepalive_requests 10000000;
    keepalive_timeout 300s;
    server {{
        listen 127.0.0.1:{port};
        location = /small {{ default_type text/plain; return 200 "{page}"; }}
    }}
"""


# -- the clients, each in its own process ----------------------------------------------


async def run_relays(url: str, seconds: float, workers: int) -> None:
    from relays_http.client import PoolLimits, Session

    async with Session(pool_limits=PoolLimits(max_connections=workers)) as session:
        await drive(lambda: fetch_relays(session, url), seconds, workers)


async def fetch_relays(session: Any, url: str) -> int:
    response = await session.get(url)
    return len(response.content)


async def run_aiohttp(url: str, seconds: float, workers: int) -> None:
    import aiohttp

    connector = aiohttp.TCPConnector(limit=workers)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def fetch() -> int:
            async with session.get(url) as response:
                return len(await response.read())

        await drive(fetch, seconds, workers)


async def run_httpx(url: str, seconds: float, workers: int) -> None:
    import httpx

    limits = httpx.Limits(max_connections=workers, max_keepalive_connections=workers)
    async with httpx.AsyncClient(limits=limits) as client:

        async def fetch() -> int:
            response = await client.get(url)
            return len(response.content)

        await drive(fetch, seconds, workers)


async def drive(fetch: Any, seconds: float, workers: int) -> None:
    """Warm up (every connection opened), then count fetches by ``workers`` for ``seconds``.

    A run is bounded in time rather than in requests, so a slow client takes no longer
    than a fast one; the figures are requests completed over the time they took.
    """
    await asyncio.gather(*(fetch() for _ in range(workers)))
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    done = 0

    async def worker() -> None:
        nonlocal done
        while loop.time() < deadline:
            if await fetch() != len(PAGE):
                raise RuntimeError("short page")
            done += 1

    cpu_before = resource.getrusage(resource.RUSAGE_SELF)
    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(workers)))
    wall = time.perf_counter() - start
    cpu_after = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (cpu_after.ru_utime - cpu_before.ru_utime) + (cpu_after.ru_stime - cpu_before.ru_stime)
    print(json.dumps({"wall": wall, "cpu": cpu, "requests": done}))


def run_client(kind: str, url: str, seconds: float, workers: int) -> None:
    _harness.unshadow_standard_library()  # before aiohttp, httpx or relays_http import http
    runner = {
        "relays": run_relays,
        "relays-uvloop": run_relays,
        "aiohttp": run_aiohttp,
        "httpx": run_httpx,
    }[kind]
    if kind == "relays-uvloop":
        import uvloop

        uvloop.run(runner(url, seconds, workers))
    else:
        asyncio.run(runner(url, seconds, workers))


# -- the driver -------------------------------------------------------------------------


def available(kind: str) -> bool:
    module = {"relays": "relays_http", "relays-uvloop": "uvloop"}.get(kind, kind)
    return importlib.util.find_spec(module) is not None  # found, not imported: see run_client


def measure(
    kind: str, url: str, seconds: float, workers: int, cpu: int | None
) -> dict[str, float]:
    """One run of client *kind* in a process of its own on *cpu*: what it printed."""
    command = [sys.executable, __file__, "--client", kind, "--url", url]
    command += ["--seconds", str(seconds), "--workers", str(workers)]
    try:
        figures: dict[str, float] = _harness.run_client(command, cpu=cpu, timeout=600).figures()
    except subprocess.CalledProcessError as error:
        raise RuntimeError(f"{kind} failed: {error.stderr[-2000:]}") from error
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="length of one run")
    parser.add_argument("--workers", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--only", default=",".join(CLIENTS))
    parser.add_argument("--quick", action="store_true", help="one round of 1 s runs")
    parser.add_argument("--client", help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.client:
        run_client(options.client, options.url, options.seconds, options.workers)
        return
    if options.quick:
        options.seconds, options.rounds = 1.0, 1
    if _harness.NGINX is None:
        sys.exit("benchmarks/client.py needs nginx: apt-get install nginx")
    kinds = [kind for kind in options.only.split(",") if kind]
    skipped = [kind for kind in kinds if not available(kind)]
    kinds = [kind for kind in kinds if kind not in skipped]
    for kind in skipped:
        print(f"{kind}: not installed, skipped")

    server_cpu, client_cpu = _harness.server_and_client_cpus()

    def one_round(number: int, kind: str) -> tuple[float, float]:
        figures = measure(kind, url, options.seconds, options.workers, client_cpu)
        rate = figures["requests"] / figures["wall"]
        per_request = figures["cpu"] / figures["requests"] * 1e6
        print(
            f"round {number}: {kind:14} {rate:9,.0f} req/s {per_request:7.1f} us CPU/request",
            flush=True,
        )
        return rate, per_request

    with tempfile.TemporaryDirectory() as prefix:
        port = _harness.free_port()
        http = NGINX_HTTP.format(port=port, page=PAGE)
        with _harness.nginx_server(prefix, port, http, cpu=server_cpu) as nginx:
            try:
                nginx.wait_listening()
            except _harness.ServerDidNotStart as error:
                sys.exit(str(error))
            url = f"http://127.0.0.1:{port}/small"
            outcomes = _harness.rounds(options.rounds, kinds, one_round)
    best = {kind: max(rate for rate, _ in runs) for kind, runs in outcomes.items()}
    cpu = {kind: min(per_request for _, per_request in runs) for kind, runs in outcomes.items()}

    print()
    print(
        f"{options.workers} workers, {options.seconds} s per run, best of "
        f"{options.rounds} round(s); nginx on CPU 0, each client on CPU 1"
    )
    print(f"{'client':14} {'req/s':>9} {'us CPU/req':>11} {'relays x':>9} {'target':>7}")
    for kind in kinds:
        ratio = best.get("relays", 0.0) / best[kind] if best[kind] else 0.0
        target = TARGETS.get(kind)
        verdict = ""
        if target is not None and "relays" in best:
            verdict = f"{target:5.1f}x {'PASS' if ratio >= target else 'MISS'}"
        print(f"{kind:14} {best[kind]:9,.0f} {cpu[kind]:11.1f} {ratio:8.2f}x {verdict}")


if __name__ == "__main__":
    main()
