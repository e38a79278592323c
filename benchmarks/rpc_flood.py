"""JSON-RPC over TCP lines under a flood: server memory while clients send and never read.

Each row starts a relays-jsonrpc line server in a process of its own, pinned to CPU 0 when
``taskset`` is there, whose one method waits a long time. Then CONNECTIONS clients send
calls of it as fast as the server takes them, for SECONDS or until ``--budget-mib`` are
sent, and never read an answer. The row prints the bytes the server accepted, how many calls
were running at most, and how much its resident memory grew.

The rows differ only in ``JSONRPCLimits.max_pending_per_connection``: the default (16)
against a limit too high to matter, which is how the server behaved before it paused
reading at the limit (it started every line of a read at once). Run from the repository
root, after ``python3 dev.py test`` has made ``.venv``::

    .venv/bin/python benchmarks/rpc_flood.py [--seconds 5] [--connections 20]
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import sys
import time

import _harness

SERVER = """\
import asyncio, sys
from relays import Component
from relays.testing import Manager
from relays_jsonrpc import JSONRPCLimits, JSONRPCLines
from relays_sockets import TCPServer

class Methods(Component):
    channel = "rpc"

    def __init__(self):
        super().__init__()
        self.active = 0
        self.most = 0

    async def hold(self, n):
        self.active += 1
        self.most = max(self.most, self.active)
        try:
            await asyncio.sleep(3600)
        finally:
            self.active -= 1

async def main():
    limit = int(sys.argv[1])
    server = TCPServer("tcp://127.0.0.1:0", channel="flood")
    lines = JSONRPCLines(
        channel="flood",
        limits=JSONRPCLimits(max_pending_per_connection=limit, call_timeout=None),
    )
    methods = Methods()
    async with Manager() + server + lines + methods:
        host, port = await server.wait_ready()
        print(port, flush=True)
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, sys.stdin.readline)  # the flood is over: "most?"
        print(methods.most, flush=True)

asyncio.run(main())
"""


def flood(
    limit: int, connections: int, seconds: float, budget: int, settle: float
) -> tuple[int, int, float]:
    """``(bytes accepted, most calls running, RSS growth in MiB)`` for one server."""
    server_cpu, _ = _harness.server_and_client_cpus()
    command = [sys.executable, "-c", SERVER, str(limit)]
    with _harness.ServerProcess(f"limit {limit}", command, port=None, cpu=server_cpu) as server:
        port = server.port
        before = _harness.rss_bytes(server.pid)
        call = json.dumps({"jsonrpc": "2.0", "method": "hold", "params": [1], "id": 1})
        chunk = (call + "\n").encode() * 256
        clients = [socket.create_connection(("127.0.0.1", port)) for _ in range(connections)]
        for client in clients:
            client.setblocking(False)
        sent = 0
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline and sent < budget:
            progress = False
            for client in clients:
                try:
                    sent += client.send(chunk)
                    progress = True
                except BlockingIOError:
                    continue
            if not progress:
                time.sleep(0.01)  # every socket is full: the server stopped reading
        time.sleep(settle)  # let the server take what it will of what was sent
        after = _harness.rss_bytes(server.pid)
        most = int(server.ask("most?"))
        for client in clients:
            client.close()
        return sent, most, (after - before) / 2**20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--connections", type=int, default=20)
    parser.add_argument(
        "--settle", type=float, default=3.0, help="seconds between the flood and the measure"
    )
    parser.add_argument(
        "--budget-mib",
        type=float,
        default=2.0,
        help="stop a row after sending this much (without a limit, each call becomes a task:"
        " a few MiB of calls cost hundreds of MiB)",
    )
    options = parser.parse_args()
    if not os.path.exists("/proc/self/status"):
        sys.exit("rpc_flood.py reads /proc for the server's memory (Linux)")
    print(
        f"{options.connections} connections flood calls for {options.seconds:g} s or "
        f"{options.budget_mib:g} MiB, never reading an answer"
    )
    print(
        f"{'max_pending_per_connection':>28} {'MiB sent':>9} {'calls running':>14} {'RSS +MiB':>9}"
    )
    for label, limit in (("16 (default)", 16), ("no limit", 10**9)):
        budget = int(options.budget_mib * 2**20)
        sent, most, growth = flood(
            limit, options.connections, options.seconds, budget, options.settle
        )
        print(f"{label:>28} {sent / 2**20:9.1f} {most:14d} {growth:9.1f}")


if __name__ == "__main__":
    main()
