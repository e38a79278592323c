"""A line-based TCP protocol server: a tiny key-value store, one command a line.

The transport and the protocol are found by name through the plugin hooks
(``relays-sockets`` answers ``tcp``, ``relays-io`` answers ``line``), so this
program names no plugin module. Commands::

    SET key value   ->  OK
    GET key         ->  the value, or ERR no such key
    QUIT            ->  BYE, and the server closes the connection

Lines longer than 1024 bytes close the connection (the Line protocol's limit).
Try it with ``nc 127.0.0.1 7000``::

    python examples/circuits/memo_server.py 7000
"""

from __future__ import annotations

import sys
from typing import Any

from relays import Component, find_protocol, find_transport
from relays.transports import Connection


class MemoServer(Component):
    channel = "memo"

    def __init__(self, bind: Any = ("127.0.0.1", 7000)) -> None:
        super().__init__()
        self.memory: dict[str, str] = {}
        server = find_transport("tcp").server
        assert server is not None
        self.transport = server(bind, channel="memo").register(self)
        find_protocol("line")(channel="memo", encoding="utf-8", max_line_length=1024).register(
            self
        )

    def line(self, sock: Connection, line: str) -> None:
        command, _, rest = line.strip().partition(" ")
        command = command.upper()
        if command == "SET":
            key, _, value = rest.partition(" ")
            self.memory[key] = value
            sock.write(b"OK\n")
        elif command == "GET":
            value = self.memory.get(rest)
            sock.write(b"ERR no such key\n" if value is None else value.encode() + b"\n")
        elif command == "QUIT":
            sock.write(b"BYE\n")
            sock.close()
        else:
            sock.write(f"ERR unknown command {command!r}\n".encode())

    def ready(self, server: Any, address: Any) -> None:
        print(f"memo: listening on {address[0]}:{address[1]}", flush=True)


if __name__ == "__main__":
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 7000
    MemoServer(("127.0.0.1", port)).run()
