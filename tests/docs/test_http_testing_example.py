"""The example of docs/reference/http-testing.rst, which includes this file as it is: a test of a
controller on the in-memory transport, so the page shows a test that pytest really runs."""

from __future__ import annotations

from relays.testing import MemoryTransport
from relays_http import Controller, Server
from relays_http.testing import Client


class Root(Controller):
    def hello(self, name: str = "world") -> str:
        return f"hello {name}"


async def test_hello() -> None:
    transport = MemoryTransport(channel="web")
    async with Server(transport=transport) + Root():
        client = Client(transport)
        status, _headers, body = await client.get("/hello/ann")
        assert (status, body) == (200, b"hello ann")
        # Pipelined: three requests sent at once, the answers in order.
        for name in ("a", "b", "c"):
            client.send_request("GET", f"/hello/{name}")
        assert [r.text for r in await client.responses(3)] == ["hello a", "hello b", "hello c"]
