#!/usr/bin/env python3
"""Hostile clients: server memory, and a fresh client's latency, while an attack runs.

Six attacks from issue #15, each against relays-http and, in the same run, against
uvicorn (h11 on asyncio) and gunicorn (gthread) as peers:

* ``pipeline``: connections that pipeline requests and never read the answers;
* ``slow-body``: connections that send a request body one byte every few seconds;
* ``slow-upload``: the same, to a handler that streams the body as it comes (relays:
  ``request.stream()``; an ASGI app's ``receive``; a WSGI app reading ``wsgi.input``);
* ``slow-read``: connections that ask for a 4 MiB answer and read it one byte a second
  (a 4 KiB receive buffer); ``--slow-readers`` of them (100: a server that buffers whole
  answers would hold 400 MB, enough on a shared machine);
* ``slow-file``: the same, reading a 4 MiB static file that each server sends its own
  zero-copy way where it has one (relays: a ``FileRegion``, the kernel's ``sendfile``;
  gunicorn: ``wsgi.file_wrapper``, ``sendfile`` too; uvicorn: the app reads and sends
  chunks, as Starlette's ``FileResponse`` does);
* ``idle``: connections that make one request and then sit idle (keep-alive).

Each server runs in its own process (pinned to CPU 0 with ``taskset`` when there is one),
the attackers in another (CPU 1). While an attack runs, a prober in this process opens a
fresh connection every ``--probe-interval`` seconds, asks ``GET /`` and times the whole
answer (a 503, a reset or no answer within ``--probe-timeout`` counts as failed), and the
server's resident memory (RSS, summed over its processes) is sampled. The table gives, per
attack and server: RSS before and at most during the attack, the probes' median and worst
latency, the probes that failed, the same two for the attack's second half alone (with
``--seconds 60``: the issue's "answered within 1 s by 30 s into the attack"), and how many
attacking connections the server had closed by the end (the issue's "90% of the slow ones
closed by 60 s"). The whole run is bounded: ``--seconds`` per attack (15 by default: about six
minutes for everything).

Usage (from the repository root, after ``python3 dev.py test`` made ``.venv``)::

    .venv/bin/pip install uvicorn gunicorn
    .venv/bin/python benchmarks/hostile.py [--seconds 15] [--connections 1000]
        [--only relays,uvicorn] [--attacks pipeline,idle]
"""

from __future__ import annotations

import _harness  # before the path is cleaned: benchmarks/ is where it lives

_harness.unshadow_standard_library()

import argparse  # noqa: E402
import multiprocessing  # noqa: E402
import os  # noqa: E402
import resource  # noqa: E402
import selectors  # noqa: E402
import socket  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
from typing import Any  # noqa: E402

SERVERS = ("relays", "uvicorn", "gunicorn-gthread")
ATTACKS = ("pipeline", "slow-body", "slow-upload", "slow-read", "slow-file", "idle")
HELLO = b"Hello, World!"
#: The slow readers' answer: more than the system's socket buffers hold, so it waits in
#: the server.
BIG = b"x" * (4 * 1024 * 1024)
#: Connections of the pipelining flood (the issue's figure).
PIPELINING_CONNECTIONS = 20
#: Seconds between two bytes of a slow client (the issue's: 1 byte every 5 s to send).
SLOW_BODY_INTERVAL = 5.0
SLOW_READ_INTERVAL = 1.0
#: The static file of ``slow-file`` (made by the run, given to each server).
FILE_SIZE = 4 * 1024 * 1024
#: Bytes an ASGI app reads and sends per step of the static file.
FILE_CHUNK = 64 * 1024


# -- the servers -------------------------------------------------------------------------


def serve_relays(port: int, path: str) -> None:
    from collections.abc import Iterator

    from relays import Component
    from relays_http import FileRegion, Request, Response, Server

    def regions() -> Iterator[FileRegion]:
        with open(path, "rb") as file:
            yield FileRegion(file, 0, FILE_SIZE)

    class App(Component):
        channel = "web"

        async def request(self, request: Request, response: Response) -> Any:
            if request.path == "/upload":  # streamed to this handler
                async for _chunk in request.stream():
                    pass
            elif request.method == "POST":
                await request.read()
            if request.path == "/file":
                return regions()
            return BIG if request.path == "/big" else HELLO

    server = Server(("127.0.0.1", port))
    server.http.stream_bodies("/upload")
    (server + App()).run(use_uvloop=False)


def asgi_app(path: str) -> Any:
    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        more = True
        while more:  # read the whole body, as it comes
            message = await receive()
            more = message.get("more_body", False)
        if scope["path"] == "/file":  # as Starlette's FileResponse sends a file
            await _send_file(path, send)
            return
        body = BIG if scope["path"] == "/big" else HELLO
        length = str(len(body)).encode()
        headers = [(b"content-type", b"text/plain"), (b"content-length", length)]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    return app


async def _send_file(path: str, send: Any) -> None:
    length = str(FILE_SIZE).encode()
    headers = [(b"content-type", b"application/octet-stream"), (b"content-length", length)]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    import asyncio

    file = await asyncio.to_thread(open, path, "rb")  # off the loop, as Starlette reads
    try:
        while chunk := await asyncio.to_thread(file.read, FILE_CHUNK):
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
    finally:
        file.close()
    await send({"type": "http.response.body", "body": b""})


def serve_uvicorn(port: int, path: str) -> None:
    import uvicorn

    uvicorn.run(
        asgi_app(path), host="127.0.0.1", port=port, http="h11", loop="asyncio", log_level="error"
    )


def wsgi_app(path: str) -> Any:
    def app(environ: dict[str, Any], start_response: Any) -> Any:
        length = int(environ.get("CONTENT_LENGTH") or 0)
        if length:
            environ["wsgi.input"].read(length)
        if environ["PATH_INFO"] == "/file":  # gunicorn sends it with sendfile
            headers = [("Content-Type", "application/octet-stream")]
            start_response("200 OK", [*headers, ("Content-Length", str(FILE_SIZE))])
            return environ["wsgi.file_wrapper"](open(path, "rb"))
        body = BIG if environ["PATH_INFO"] == "/big" else HELLO
        headers = [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))]
        start_response("200 OK", headers)
        return [body]

    return app


def serve_gunicorn(port: int, path: str) -> None:
    from gunicorn.app.base import BaseApplication

    class Gunicorn(BaseApplication):  # type: ignore[misc]
        def load_config(self) -> None:
            settings = {
                "bind": f"127.0.0.1:{port}",
                "workers": 1,
                "worker_class": "gthread",
                "threads": 4,
                "loglevel": "error",
            }
            for name, value in settings.items():
                self.cfg.set(name, value)

        def load(self) -> Any:
            return wsgi_app(path)

    Gunicorn().run()


def installed(kind: str) -> bool:
    import importlib.util

    module = {"relays": "relays_http", "uvicorn": "uvicorn", "gunicorn-gthread": "gunicorn"}
    return importlib.util.find_spec(module[kind]) is not None


def start_server(kind: str, path: str, cpu: int | None) -> _harness.ServerProcess:
    """``hostile.py --serve KIND`` on a port of its own, pinned to *cpu*; returned once
    it answers ``GET /`` (gunicorn listens before its worker is up)."""
    port = _harness.free_port()
    command = [sys.executable, os.path.abspath(__file__), "--serve", kind, "--port", str(port)]
    server = _harness.ServerProcess(kind, [*command, "--file", path], port=port, cpu=cpu)
    try:
        server.wait_listening()
        if not probe(port, _harness.START_TIMEOUT)[0]:
            raise _harness.ServerDidNotStart(f"{kind} did not answer on port {port}")
    except _harness.ServerDidNotStart:
        server.stop(grace=0)
        raise
    return server


# -- the prober --------------------------------------------------------------------------


def probe(port: int, timeout: float) -> tuple[bool, float]:
    """One fresh client: connect, ``GET /``, read the whole answer. (ok, seconds)."""
    started = time.monotonic()
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
            sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            data = b""
            while chunk := sock.recv(65536):
                data += chunk
                if data.startswith(b"HTTP/1.1 200") and data.endswith(HELLO):
                    break
                if time.monotonic() - started > timeout:
                    break
    except OSError:
        return False, time.monotonic() - started
    ok = data.startswith(b"HTTP/1.1 200") and data.endswith(HELLO)
    return ok, time.monotonic() - started


# -- the attackers (in a process of their own) -----------------------------------------------


def attack(
    kind: str, port: int, connections: int, seconds: float, cpu: int | None, report: Any
) -> None:
    """Run attack *kind* for *seconds* on *cpu*; put how many connections the server
    closed."""
    _harness.pin_this_process(cpu)
    selector = selectors.DefaultSelector()
    count = connections
    socks: list[socket.socket] = []
    for _ in range(count):
        try:
            sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        except OSError:
            continue
        if kind in ("slow-read", "slow-file"):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.setblocking(False)
        socks.append(sock)
    closed: set[socket.socket] = set()
    end = time.monotonic() + seconds
    request = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"
    if kind == "pipeline":
        burst = request * 2000
        while time.monotonic() < end:
            for sock in socks:
                if sock in closed:
                    continue
                try:
                    sock.send(burst)
                except BlockingIOError:
                    pass
                except OSError:
                    closed.add(sock)
            time.sleep(0.01)
    elif kind in ("slow-body", "slow-upload"):
        target = b"/upload" if kind == "slow-upload" else b"/"
        head = b"POST %s HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n" % target
        _send_all(socks, head, closed)
        while time.monotonic() < end:
            time.sleep(min(SLOW_BODY_INTERVAL, max(0.0, end - time.monotonic())))
            _send_all(socks, b"y", closed)
    elif kind in ("slow-read", "slow-file"):
        target = b"/file" if kind == "slow-file" else b"/big"
        _send_all(socks, b"GET %s HTTP/1.1\r\nHost: x\r\n\r\n" % target, closed)
        while time.monotonic() < end:
            time.sleep(SLOW_READ_INTERVAL)
            for sock in socks:
                if sock not in closed:
                    _read(sock, 1, closed)
    else:  # idle: one request each, then nothing
        _send_all(socks, request, closed)
        deadline = time.monotonic() + 5
        for sock in socks:
            selector.register(sock, selectors.EVENT_READ)
        answered = 0
        while answered < len(socks) and time.monotonic() < deadline:
            for key, _ in selector.select(0.1):
                _read(key.fileobj, 65536, closed)  # type: ignore[arg-type]
                selector.unregister(key.fileobj)
                answered += 1
        time.sleep(max(0.0, end - time.monotonic()))
    # Which connections did the server close? (EOF or reset on a read)
    for sock in socks:
        if sock not in closed:
            _read(sock, 1 << 20, closed, drain=True)
    report.put(len(closed))
    for sock in socks:
        sock.close()


def _send_all(socks: list[socket.socket], data: bytes, closed: set[socket.socket]) -> None:
    for sock in socks:
        if sock in closed:
            continue
        try:
            sock.send(data)
        except BlockingIOError:
            pass
        except OSError:
            closed.add(sock)


def _read(
    sock: socket.socket, size: int, closed: set[socket.socket], *, drain: bool = False
) -> None:
    try:
        while True:
            if not sock.recv(size):
                closed.add(sock)
                return
            if not drain:
                return
    except BlockingIOError:
        return
    except OSError:
        closed.add(sock)


# -- one measurement ---------------------------------------------------------------------------


def measure(kind: str, name: str, args: argparse.Namespace) -> dict[str, Any]:
    server_cpu, client_cpu = _harness.server_and_client_cpus()
    server = start_server(name, args.file, server_cpu)
    port, pid = server.port, server.pid
    try:
        time.sleep(0.5)
        before = _harness.rss_bytes(pid)
        report: Any = multiprocessing.get_context("fork").Queue()
        attacker = multiprocessing.get_context("fork").Process(
            target=attack,
            args=(kind, port, attackers(kind, args), args.seconds, client_cpu, report),
        )
        attacker.start()
        peak = before
        latencies: list[float] = []
        late: list[float] = []  # the probes of the attack's second half (None: failed)
        failed = late_failed = 0
        started = time.monotonic()
        stop = started + args.seconds
        halfway = started + args.seconds / 2
        time.sleep(min(1.0, args.seconds / 4))  # let the attack build up
        while time.monotonic() < stop:
            is_late = time.monotonic() >= halfway
            ok, seconds = probe(port, args.probe_timeout)
            peak = max(peak, _harness.rss_bytes(pid))
            if ok:
                latencies.append(seconds)
                if is_late:
                    late.append(seconds)
            else:
                failed += 1
                late_failed += is_late
            time.sleep(max(0.0, min(args.probe_interval - seconds, stop - time.monotonic())))
        peak = max(peak, _harness.rss_bytes(pid))
        cut = report.get(timeout=args.seconds + 60)
        attacker.join(30)
    finally:
        server.stop(grace=0)  # uvicorn's and gunicorn's graceful stops wait on the attackers
    return {
        "before": before,
        "peak": peak,
        "p50": statistics.median(latencies) if latencies else None,
        "worst": max(latencies) if latencies else None,
        "failed": failed,
        "probes": failed + len(latencies),
        "late_worst": max(late) if late else None,
        "late_failed": late_failed,
        "late_probes": late_failed + len(late),
        "cut": cut,
    }


def attackers(kind: str, args: argparse.Namespace) -> int:
    if kind == "pipeline":
        return PIPELINING_CONNECTIONS
    slow_readers = kind in ("slow-read", "slow-file")
    return int(args.slow_readers if slow_readers else args.connections)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--serve", choices=SERVERS, help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--file", help=argparse.SUPPRESS)
    parser.add_argument("--seconds", type=float, default=15.0, help="per attack (default 15)")
    parser.add_argument(
        "--connections", type=int, default=1000, help="slow and idle clients (default 1000)"
    )
    parser.add_argument(
        "--slow-readers", type=int, default=100, help="slow-read clients (default 100)"
    )
    parser.add_argument("--probe-interval", type=float, default=0.5)
    parser.add_argument("--probe-timeout", type=float, default=5.0)
    parser.add_argument("--only", default=",".join(SERVERS))
    parser.add_argument("--attacks", default=",".join(ATTACKS))
    args = parser.parse_args()
    if args.serve:
        {"relays": serve_relays, "uvicorn": serve_uvicorn, "gunicorn-gthread": serve_gunicorn}[
            args.serve
        ](args.port, args.file)
        return 0
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 65536)), hard))
    servers = [s for s in args.only.split(",") if s in SERVERS and installed(s)]
    missing = [s for s in args.only.split(",") if s not in servers]
    if missing:
        print(f"skipped (not installed): {', '.join(missing)}", file=sys.stderr)
    attacks = [a for a in args.attacks.split(",") if a in ATTACKS]
    print(
        f"{args.seconds:g} s per attack; {PIPELINING_CONNECTIONS} pipelining connections, "
        f"{args.connections} slow-body or idle ones, {args.slow_readers} slow readers; "
        f"a fresh client every {args.probe_interval:g} s"
    )
    header = (
        f"{'attack':<11} {'server':<17} {'RSS before':>10} {'RSS max':>9} "
        f"{'fresh p50':>9} {'fresh max':>9} {'failed':>9} "
        f"{'2nd half max':>12} {'failed':>9} {'attackers cut':>13}"
    )
    print(header)
    print("-" * len(header))
    with tempfile.TemporaryDirectory() as directory:
        args.file = os.path.join(directory, "static.bin")
        with open(args.file, "wb") as file:
            file.write(os.urandom(FILE_SIZE))
        for kind in attacks:
            for server in servers:  # every server under the same attack, in turn
                print_row(kind, server, measure(kind, server, args), args)
    return 0


def print_row(kind: str, server: str, row: dict[str, Any], args: argparse.Namespace) -> None:
    print(
        f"{kind:<11} {server:<17} {_mb(row['before']):>10} {_mb(row['peak']):>9} "
        f"{_ms(row['p50']):>9} {_ms(row['worst']):>9} "
        f"{row['failed']:>4}/{row['probes']:<4} "
        f"{_ms(row['late_worst']):>12} {row['late_failed']:>4}/{row['late_probes']:<4} "
        f"{row['cut']:>6}/{attackers(kind, args)}",
        flush=True,
    )


def _mb(size: int) -> str:
    return f"{size / 1024 / 1024:.0f} MB"


def _ms(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds * 1000:.0f} ms"


if __name__ == "__main__":
    threading.current_thread().name = "hostile"
    sys.exit(main())
