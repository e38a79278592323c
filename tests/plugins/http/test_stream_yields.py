"""A body streamed to a fast client yields to the loop, so other clients are answered meanwhile.

A client that keeps up never makes ``drain`` wait; a stream that never waits itself would
hold the loop to its end. Checked by the order of events (when, in the stream, the other
client's request was handled), never by a timer.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from relays import Component
from relays.testing import MemoryClient, MemoryConnection, MemoryTransport
from relays.transports import Connect
from relays_http import BaseServer, Request, Response
from relays_http.testing import Client, parse_responses

CHUNKS = 100_000


class FastClientConnection(MemoryConnection):
    """An in-memory connection whose client reads everything at once: ``drain`` never waits."""

    async def drain(self) -> None:
        return None


class FastTransport(MemoryTransport):
    def connect(self, peer: tuple[str, int] | None = None) -> MemoryClient:
        connection = FastClientConnection(self, peer or ("127.0.0.1", 40001))
        self.connections.append(connection)
        self.fire(Connect(connection, *connection.peer))
        return MemoryClient(self, connection)


class App(Component):
    channel = "web"

    def __init__(self, other: list[Client]) -> None:
        super().__init__()
        self.other = other
        #: How many chunks the stream had yielded when the other request was handled.
        self.other_handled_at: int | None = None
        self.position = 0

    def _started(self) -> None:
        # The stream runs: another client asks for a page now.
        self.other[0].send_request("GET", "/other")

    def request(self, request: Request, response: Response) -> Any:
        if request.path == "/other":
            self.other_handled_at = self.position
            return "other"
        if request.path == "/async":
            return self._async_chunks()
        return self._chunks()

    def _chunks(self) -> Iterator[bytes]:
        self._started()
        for self.position in range(CHUNKS):
            yield b"0123456789"

    async def _async_chunks(self) -> AsyncIterator[bytes]:
        self._started()
        for self.position in range(CHUNKS):
            yield b"0123456789"


@pytest.mark.parametrize("path", ["/sync", "/async"])
async def test_another_client_is_answered_while_a_long_stream_runs(path: str) -> None:
    transport = FastTransport(channel="web")
    other: list[Client] = []
    app = App(other)
    async with BaseServer(transport=transport) + app:
        streaming = Client(transport)
        other.append(Client(transport))
        streaming.send_request("GET", path)
        assert (await other[0].response()).text == "other"
        # Waiting for the last chunk, rather than parsing the growing body at every write.
        data = await streaming.connection.wait(lambda data: data.endswith(b"\r\n0\r\n\r\n"), 60)
        [response] = parse_responses(data)
        assert len(response.body) == 10 * CHUNKS
    assert app.other_handled_at is not None
    # Handled while the stream ran, not after it: a yield every 64 KiB (6,554 chunks of
    # 10 bytes) or every millisecond, whichever came first.
    assert app.other_handled_at < CHUNKS - 1
