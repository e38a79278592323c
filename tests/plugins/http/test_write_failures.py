"""A write that fails after the response was made closes the connection, never wedges it."""

from __future__ import annotations

import logging

import pytest

from relays import Component
from relays.testing import MemoryClient, MemoryConnection, MemoryTransport
from relays.transports import Connect
from relays_http import BaseServer, Request, Response
from relays_http.testing import Client


class BrokenWrites(MemoryConnection):
    """A connection whose transport raises on write instead of reporting an error."""

    def write(self, data: bytes) -> None:
        raise OSError("the transport broke")


class BreakingTransport(MemoryTransport):
    """Connections to peers on port 1 break on write; the others work."""

    def connect(self, peer: tuple[str, int] | None = None) -> MemoryClient:
        peer = peer or ("127.0.0.1", 40002)
        kind = BrokenWrites if peer[1] == 1 else MemoryConnection
        connection = kind(self, peer)
        self.connections.append(connection)
        self.fire(Connect(connection, *peer))
        return MemoryClient(self, connection)


class App(Component):
    channel = "web"

    def __init__(self) -> None:
        super().__init__()
        self.failures: list[BaseException] = []

    def request(self, request: Request, response: Response) -> object:
        if request.path == "/stream":
            return iter([b"a", b"b"])
        return "hello"

    def exception(self, error: BaseException, *args: object) -> None:
        self.failures.append(error)


@pytest.mark.parametrize("path", ["/", "/stream"])
async def test_a_failed_write_closes_that_connection_and_the_server_goes_on(
    path: str, caplog: pytest.LogCaptureFixture
) -> None:
    app = App()
    transport = BreakingTransport(channel="web")
    async with BaseServer(transport=transport) + app:
        broken = Client(transport, peer=("127.0.0.1", 1))
        with caplog.at_level(logging.WARNING):
            broken.send_request("GET", path)
            await broken.wait_closed()
        working = Client(transport, peer=("127.0.0.1", 2))
        assert (await working.get("/")).text == "hello"
    assert "writing the response" in caplog.text
    assert app.failures == []  # nothing raised into the dispatch
