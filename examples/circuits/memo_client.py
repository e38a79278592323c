"""A line-based TCP client: sends commands to a server one at a time, prints each answer.

The client half of ``memo_server.py``, written as circuits users write clients: a
``tcp`` client transport (found through the plugin hooks, like the server's) and a
``line`` protocol on the client's channel. The conversation is strict request and
answer: the next command goes out only when the answer to the last one is in. When
the server hangs up (after ``QUIT``), the program stops; a server that cannot be
reached ends it with exit status 1 and the reason. Try, with the server running::

    python examples/circuits/memo_client.py 7000 'SET tea green' 'GET tea' QUIT
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any

from relays import Component, find_protocol, find_transport
from relays.transports import Write


class MemoClient(Component):
    channel = "memo-client"

    def __init__(self, commands: Sequence[str], address: tuple[str, int] | None = None) -> None:
        """*address* connects when the program starts; without it, fire
        ``connect(host, port)`` on the ``memo-client`` channel when the server is known."""
        super().__init__()
        self.waiting = list(commands)
        client = find_transport("tcp").client
        assert client is not None
        client(address, channel=self.channel).register(self)
        find_protocol("line")(channel=self.channel, encoding="utf-8").register(self)

    def connected(self, host: str, port: int) -> None:
        print(f"connected to {host}:{port}")
        self._send_next()

    def line(self, line: str) -> None:
        print(f"< {line}")
        self._send_next()

    def _send_next(self) -> None:
        if self.waiting:
            command = self.waiting.pop(0)
            print(f"> {command}")
            self.fire(Write(command.encode() + b"\n"))

    def disconnected(self, *args: Any) -> None:
        print("server closed the connection")
        self.stop()

    def unreachable(self, host: str, port: int, reason: Any) -> None:
        print(f"cannot reach {host}:{port}: {reason}")
        self.stop(1)


if __name__ == "__main__":
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 7000
    MemoClient(sys.argv[2:], ("127.0.0.1", port)).run()
