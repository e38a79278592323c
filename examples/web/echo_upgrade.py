"""Switching protocols: after ``101 Switching Protocols``, an echo protocol of our own.

A client asks for it with an ordinary request::

    GET /echo HTTP/1.1
    Host: 127.0.0.1:8000
    Connection: Upgrade
    Upgrade: echo

The request handler agrees by returning :class:`~relays_http.SwitchProtocols`; from
then on the connection is :class:`Echo`'s, which sends every byte back until the
client half-closes. Any other request gets ``426 Upgrade Required``. Try it with
``python examples/web/echo_upgrade.py`` and a raw TCP client.
"""

from __future__ import annotations

import sys

from relays import Component
from relays.transports import Connection
from relays_http import HTTPError, Request, Response, Server, SwitchProtocols


class Echo:
    """An :class:`~relays_http.UpgradeHandler`: the echo protocol on one connection."""

    def __init__(self) -> None:
        self.connection: Connection | None = None

    def connection_made(self, connection: Connection, buffered: bytes) -> None:
        self.connection = connection
        if buffered:  # what the client sent right behind its request
            connection.write(buffered)

    def data_received(self, data: bytes) -> None:
        assert self.connection is not None
        self.connection.write(data)

    def eof_received(self) -> None:
        assert self.connection is not None
        self.connection.close()  # the client is done: so are we

    def connection_lost(self, error: BaseException | None) -> None:
        self.connection = None


class Root(Component):
    channel = "web"

    def request(self, request: Request, response: Response) -> SwitchProtocols:
        offered = (request.headers.get("Upgrade") or "").lower().split(",")
        if request.path != "/echo" or "echo" not in [item.strip() for item in offered]:
            raise HTTPError(
                426,
                "this resource speaks echo: ask with 'Upgrade: echo'",
                headers={"Upgrade": "echo"},
            )
        return SwitchProtocols("echo", Echo())


if __name__ == "__main__":
    bind = sys.argv[1] if len(sys.argv) > 1 else "tcp://127.0.0.1:8000"
    (Server(bind) + Root()).run()
