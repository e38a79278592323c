"""A transport's read path: deliver ``read`` to its one handler when the kernel can, else fire.

``Loopback`` stands for a socket transport; ``received`` is what its asyncio protocol would
call with each chunk of bytes. The program feeds it one chunk and prints what went back.
"""

import asyncio
from typing import Any

from relays import NOT_DELIVERED, BaseComponent, Component, Value
from relays.transports import Read


class Peer:
    """The other end of the connection: keeps what the protocol writes."""

    def __init__(self) -> None:
        self.written: list[bytes] = []

    def write(self, data: bytes) -> None:
        self.written.append(data)


class Loopback(BaseComponent):
    def received(self, sock: Peer, data: bytes) -> None:
        result = self.deliver(Read, (self.channel,), sock, data)
        if result is NOT_DELIVERED:
            value = self.fire(Read(sock, data), self.channel)  # and watch its value, as before
            value.add_done_callback(lambda done: self.answered(sock, done))
        elif result is not None:
            sock.write(result)  # what the handler returned: the echo

    def answered(self, sock: Peer, value: Value) -> None:
        if isinstance(value.result, bytes):
            sock.write(value.result)


class Shout(Component):
    def read(self, sock: Peer, data: bytes) -> bytes:
        return data.upper()


class App(Component):
    def __init__(self) -> None:
        super().__init__()
        self.transport = Loopback(channel="connection").register(self)
        Shout(channel="connection").register(self)

    def started(self, component: Any) -> None:
        peer = Peer()
        # The tree is busy dispatching `started` now: feed the bytes once it is idle.
        asyncio.get_running_loop().call_soon(self.transport.received, peer, b"hello")
        asyncio.get_running_loop().call_soon(self.report, peer)

    def report(self, peer: Peer) -> None:
        print(f"written back: {peer.written}")
        self.stop()


app = App()

if __name__ == "__main__":
    app.run()
