"""The worked example of docs/howto/plugin-testing.rst: property tests of a small protocol.

``Shout`` stands for a protocol plugin's component: it reads lines and answers each one in
capitals. The tests drive it through :class:`relays.testing.MemoryTransport`, so no socket is
opened, and check the properties every byte-stream protocol must have.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from relays import BaseComponent, Component, handler, new_event_loop
from relays.testing import MemoryConnection, MemoryTransport
from relays.testing.strategies import byte_at_a_time, splits, with_trailing

# -- the protocol under test (in a plugin it lives in the plugin's package) ---------------


class Shout(BaseComponent):
    """Answers every line (ending in ``\\n``) with the same line in capitals."""

    def __init__(self, *, channel: Any) -> None:
        super().__init__(channel=channel)
        self.buffers: dict[MemoryConnection, bytearray] = {}

    @handler("connect")
    def _connect(self, sock: MemoryConnection, host: str, port: int) -> None:
        self.buffers[sock] = bytearray()

    @handler("read")
    def _read(self, sock: MemoryConnection, data: bytes) -> None:
        buffer = self.buffers[sock]
        buffer += data
        while (end := buffer.find(b"\n")) >= 0:
            sock.write(bytes(buffer[: end + 1]).upper())
            del buffer[: end + 1]

    @handler("disconnect")
    def _disconnect(self, sock: MemoryConnection) -> None:
        self.buffers.pop(sock, None)


class ShoutServer(Component):
    """The tree under test: the protocol on the in-memory transport's channel."""

    def __init__(self) -> None:
        super().__init__()
        self.transport = MemoryTransport().register(self)
        self.protocol = Shout(channel=self.transport.channel).register(self)


# -- an example-based test: the pytest plugin starts and stops the tree -------------------


@pytest.fixture
def server() -> ShoutServer:
    return ShoutServer()


async def test_shout_answers_each_line(server: ShoutServer) -> None:
    # A root component among an async test's arguments is already running here.
    assert server.running
    client = server.transport.connect()
    await client.send(b"hello\nwor")
    assert client.take() == b"HELLO\n"
    await client.send(b"ld\n")
    assert client.take() == b"WORLD\n"


# -- property tests: hypothesis draws the input, and how it is cut into reads -------------


def shout(pieces: list[bytes]) -> bytes:
    """Start a fresh server, send *pieces* as one read each, return what it wrote back."""

    async def scenario() -> bytes:
        async with ShoutServer() as server:
            client = server.transport.connect()
            for piece in pieces:
                await client.send(piece)
            return client.received

    with asyncio.Runner(loop_factory=new_event_loop) as runner:
        return runner.run(scenario())


#: Whole lines: anything but a newline, then a newline.
lines = st.lists(st.binary(max_size=20).map(lambda line: line.replace(b"\n", b"") + b"\n"))
#: The start of a line whose end has not arrived yet.
partial_line = st.binary(max_size=20).map(lambda data: data.replace(b"\n", b""))


@given(st.data(), lines)
def test_any_split_of_the_input_gives_the_same_answer(
    data: st.DataObject, message: list[bytes]
) -> None:
    whole = b"".join(message)
    pieces = data.draw(splits(whole))
    assert shout(pieces) == whole.upper()


@given(lines)
def test_one_byte_at_a_time_gives_the_same_answer(message: list[bytes]) -> None:
    whole = b"".join(message)
    assert shout(byte_at_a_time(whole)) == whole.upper()


@given(st.data(), lines)
def test_trailing_bytes_wait_for_the_rest_of_their_line(
    data: st.DataObject, message: list[bytes]
) -> None:
    whole = b"".join(message)
    sent, trailing = data.draw(with_trailing(whole, partial_line))
    assert shout(data.draw(splits(sent))) == whole.upper()
    # The trailing bytes were kept, not lost: the newline that completes them is answered.
    assert shout([sent, b"\n"]) == (sent + b"\n").upper()
    assert trailing == sent[len(whole) :]
