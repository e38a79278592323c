"""The pieces of code the sockets how-to shows, each run by tests/plugins/sockets/test_howto.py."""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from typing import Any

import relays
from relays import BaseComponent, Component
from relays.transports import Write
from relays_sockets import SocketConnection, SocketLimits, TCPClient, TCPServer


class Echo(Component):
    def read(self, sock: SocketConnection, data: bytes) -> bytes:
        return data


def echo_app() -> Component:
    return Echo() + TCPServer("tcp://127.0.0.1:8000")  # serve with echo_app().run()


class Ping(Component):
    channel = "client"

    def connected(self, host: str, port: int) -> None:
        self.fire(Write(b"ping\n"))

    def read(self, data: bytes) -> None:
        print("got", data)

    def unreachable(self, host: str, port: int, reason: Any) -> None:
        print("cannot reach", host, port, reason)


def ping_app() -> Component:
    return Ping() + TCPClient("tcp://127.0.0.1:8000")  # run with ping_app().run()


class Greeter(Component):
    def connect(self, sock: SocketConnection, host: str, port: int) -> None:
        sock.write(b"hello " + host.encode() + b"\n")


def server_from_the_plugin() -> BaseComponent:
    return relays.find_transport("tcp").server("tcp://0.0.0.0:8000", channel="web")


def tls_servers(my_context: ssl.SSLContext) -> list[TCPServer]:
    return [
        TCPServer("tls://0.0.0.0:8443", certfile="server.pem", keyfile="server.key"),
        TCPServer(("0.0.0.0", 8443), ssl_context=my_context),
    ]


class Upgrade(Component):
    def __init__(self, server_context: ssl.SSLContext) -> None:
        super().__init__()
        self.server_context = server_context

    async def read(self, sock: SocketConnection, data: bytes) -> None:
        if data == b"STARTTLS\r\n" and not sock.secure:
            sock.write(b"220 go ahead\r\n")
            await sock.start_tls(self.server_context)


def limited_server() -> TCPServer:
    return TCPServer(
        "tcp://0.0.0.0:8000",
        limits=SocketLimits(max_connections=2000, idle_timeout=60),
        read_size=16 * 1024,
    )


def deferred_server() -> TCPServer:
    return TCPServer("tcp://0.0.0.0:7000", defer_accept=1)


def chunks() -> Iterator[bytes]:
    """What the producer below sends: 1 MiB in 64 KiB pieces."""
    for number in range(16):
        yield bytes([number]) * 65536


class Producer(Component):
    async def connect(self, sock: SocketConnection, host: str, port: int) -> None:
        for chunk in chunks():
            sock.write(chunk)
            await sock.drain()  # returns at once unless the buffer is full
        sock.close()


async def compute(data: bytes) -> bytes:
    """Stands for slow work the answer waits for."""
    return data.upper()


class Slow(Component):
    async def read(self, sock: SocketConnection, data: bytes) -> None:
        sock.busy = True  # a stop now waits for the answer
        answer = await compute(data)
        sock.write(answer)
        sock.busy = False


class Summer(Component):
    def __init__(self) -> None:
        super().__init__()
        self.received = b""

    def read(self, sock: SocketConnection, data: bytes) -> None:
        self.received += data

    def eof(self, sock: SocketConnection) -> None:
        sock.write(b"%d\n" % sum(int(word) for word in self.received.split()))
        sock.close()
