#!/usr/bin/env python3
"""A chat server: the one circuits' "How To: Build a Simple Server" guide builds, on relays.

Run it and connect with ``telnet localhost 8000`` from a few terminals: every line one
user types reaches every other user, never the sender. Usage::

    python examples/chat.py [host] [port]
"""

from __future__ import annotations

import sys

from relays import Component
from relays.transports import Write
from relays_sockets import SocketConnection, TCPServer


class ChatServer(Component):
    """Keeps the connected clients and passes every complete line to the others."""

    def __init__(self, host: str = "localhost", port: int = 8000) -> None:
        super().__init__()
        # Each client's bytes after its last newline: TCP may split a line in two reads.
        self.clients: dict[SocketConnection, bytearray] = {}
        self.server = TCPServer((host, port)).register(self)

    def connect(self, sock: SocketConnection, host: str, port: int) -> None:
        self.clients[sock] = bytearray()

    def disconnect(self, sock: SocketConnection) -> None:
        self.clients.pop(sock, None)

    def read(self, sock: SocketConnection, data: bytes) -> None:
        pending = self.clients.get(sock)
        if pending is None:
            return
        pending += data
        *lines, rest = pending.split(b"\n")
        pending[:] = rest
        for line in lines:
            for client in self.clients:
                if client is not sock:
                    self.fire(Write(client, line + b"\n"))


if __name__ == "__main__":
    host = sys.argv[1] if len(sys.argv) > 1 else "localhost"
    port = int(sys.argv[2]) if len(sys.argv) > 2 else 8000
    ChatServer(host, port).run()
