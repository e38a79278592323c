"""The read -> handler -> echo path and the connection's end: what the fast paths keep."""

from __future__ import annotations

import asyncio
import socket
import struct
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from relays import BaseComponent, Component, Event, handler
from relays.testing import Manager
from relays_sockets import SocketConnection, TCPServer
from relays_sockets._connection import _address

pytestmark = pytest.mark.integration


async def exchange(address: Any, message: bytes, expected: int) -> bytes:
    """Send *message*, then read until *expected* bytes came or the server closed."""
    reader, writer = await asyncio.open_connection(*address)
    try:
        writer.write(message)
        received = b""
        while len(received) < expected:
            chunk = await asyncio.wait_for(reader.read(65536), 5)
            if not chunk:
                break
            received += chunk
        return received
    finally:
        writer.close()
        await writer.wait_closed()


@pytest.mark.parametrize(
    "shape", [bytes, bytearray, memoryview], ids=["bytes", "bytearray", "memoryview"]
)
async def test_the_echo_shortcut_writes_every_bytes_like_result(shape: Any) -> None:
    class Upper(Component):
        def read(self, sock: SocketConnection, data: bytes) -> Any:
            return shape(data.upper())

    server = TCPServer(("127.0.0.1", 0))
    async with Upper() + server:
        address = await server.wait_ready()
        assert await exchange(address, b"shout", 5) == b"SHOUT"


async def test_results_that_are_not_bytes_are_not_written(recorder: Any) -> None:
    class Talker(Component):
        def read(self, sock: SocketConnection, data: bytes) -> Any:
            if data.startswith(b"bye"):
                sock.write(b"ok")  # the only bytes this peer gets
                return None
            return {"ignored": data}  # not bytes: nothing is written

    server = TCPServer(("127.0.0.1", 0))
    log = recorder()
    async with Talker() + log + server:
        address = await server.wait_ready()
        reader, writer = await asyncio.open_connection(*address)
        writer.write(b"hello")
        await log.until("read")
        writer.write(b"bye")
        assert await asyncio.wait_for(reader.readexactly(2), 5) == b"ok"
        writer.close()
        await writer.wait_closed()
        assert not log.named("error")


async def test_an_echo_after_the_handler_closed_the_connection_is_an_error_event(
    recorder: Any,
) -> None:
    class Closer(Component):
        def read(self, sock: SocketConnection, data: bytes) -> bytes:
            sock.close()
            return data  # too late: reported, never raised

    server = TCPServer(("127.0.0.1", 0))
    log = recorder()
    async with Closer() + log + server:
        address = await server.wait_ready()
        assert await exchange(address, b"anyone?", 7) == b""
        await log.until("error")
        error = log.named("error")[-1]
        assert isinstance(error.args[0], SocketConnection)
        assert isinstance(error.args[1], ConnectionError)


async def test_a_read_finishing_after_the_peer_left_is_counted_and_reported(
    recorder: Any,
) -> None:
    release = asyncio.Event()
    reading: asyncio.Future[SocketConnection] = asyncio.get_running_loop().create_future()

    class Late(Component):
        async def read(self, sock: SocketConnection, data: bytes) -> bytes:
            reading.set_result(sock)
            await release.wait()
            return data

    server = TCPServer(("127.0.0.1", 0))
    log = recorder()
    async with Late() + log + server:
        address = await server.wait_ready()
        _reader, writer = await asyncio.open_connection(*address)
        writer.write(b"later")
        # The handler itself says it runs: when its task takes its first step after
        # the ``read`` event is recorded differs between Python versions.
        sock = await asyncio.wait_for(reading, 5)
        assert sock.pending_reads == 1
        # A reset, not a FIN: after a FIN the server would still answer, then close.
        raw = writer.get_extra_info("socket")
        raw.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        writer.transport.abort()
        await log.until("disconnect")
        errors = len(log.named("error"))
        release.set()
        await log.until("error", count=errors + 1)
        assert sock.pending_reads == 0
        late = log.named("error")[-1]
        assert late.args[0] is sock
        assert "closed connection" in str(late.args[1])


async def test_drain_fails_when_the_connection_is_lost_while_waiting() -> None:
    outcome: asyncio.Future[BaseException | None] = asyncio.Future()
    waiting = asyncio.Event()

    class Flood(Component):
        async def connect(self, sock: SocketConnection, host: str, port: int) -> None:
            # Small kernel buffers, so the megabyte stays in our write buffer.
            sock.get_extra_info("socket").setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
            sock.write(b"z" * (1024 * 1024))
            waiting.set()
            try:
                await sock.drain()
            except ConnectionError as error:
                outcome.set_result(error)
            else:
                outcome.set_result(None)

    server = TCPServer(("127.0.0.1", 0), write_high_water=4096, write_low_water=1024)
    async with Flood() + server:
        address = await server.wait_ready()
        peer = socket.socket()
        peer.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        peer.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        peer.setblocking(False)
        await asyncio.get_running_loop().sock_connect(peer, address)
        await asyncio.wait_for(waiting.wait(), 5)  # set right before drain() is awaited
        peer.close()  # a reset, with a megabyte still to send
        assert isinstance(await asyncio.wait_for(outcome, 5), ConnectionError)


async def test_drain_after_the_connection_is_gone_raises(recorder: Any) -> None:
    server = TCPServer(("127.0.0.1", 0))
    log = recorder()
    async with Manager() + log + server:
        address = await server.wait_ready()
        _reader, writer = await asyncio.open_connection(*address)
        await log.until("connect")
        sock = log.named("connect")[-1].args[0]
        writer.close()
        await writer.wait_closed()
        await log.until("disconnect")
        with pytest.raises(ConnectionError):
            await sock.drain()


@given(
    host=st.ip_addresses(v=4).map(str),
    port=st.integers(0, 65535),
    flow=st.integers(0, 2**20),
    scope=st.integers(0, 2**8),
)
def test_addresses_are_host_and_port_pairs(host: str, port: int, flow: int, scope: int) -> None:
    pair = (host, port)
    assert _address(pair) is pair  # IPv4's own pair, not a copy
    assert _address(("::1", port, flow, scope)) == ("::1", port)
    assert _address("/run/app.sock") == "/run/app.sock"
    assert _address("") is None
    assert _address(None) is None


# -- delivered reads: the handler called in place of the event -------------------------


async def test_a_lone_read_handler_is_called_without_an_event(recorder: Any) -> None:
    """Alone, the handler runs inside the read (no event queued: nothing is pending);
    with another listener (here a recorder) it gets a real event, queued as before."""
    seen: list[int] = []

    class Counter(Component):
        def read(self, sock: SocketConnection, data: bytes) -> bytes:
            seen.append(sock.pending_reads)
            return data

    for others in ((), (recorder(),)):
        seen.clear()
        server = TCPServer(("127.0.0.1", 0))
        app = Counter() + server
        for other in others:
            app += other
        async with app:
            address = await server.wait_ready()
            assert await exchange(address, b"ping", 4) == b"ping"
        assert seen == ([1] if others else [0])


async def test_a_delivered_read_may_answer_with_another_events_value() -> None:
    class Shout(Component):
        def read(self, sock: SocketConnection, data: bytes) -> Any:
            return self.fire(Event.create("loud", data))

        def loud(self, data: bytes) -> bytes:
            return data.upper()

    server = TCPServer(("127.0.0.1", 0))
    async with Shout() + server:
        address = await server.wait_ready()
        assert await exchange(address, b"hey", 3) == b"HEY"


async def test_a_failing_delivered_read_is_reported_and_the_connection_goes_on() -> None:
    reports: list[Any] = []
    reported = asyncio.Event()

    class Picky(Component):
        def read(self, sock: SocketConnection, data: bytes) -> bytes:
            if data.startswith(b"bad"):
                raise ValueError("no bad data")
            return data

    class Watcher(BaseComponent):
        @handler("exception", channel="*")
        def _on_exception(self, *args: Any, **kwargs: Any) -> None:
            reports.append((args[1], kwargs["fevent"].name))
            reported.set()

    server = TCPServer(("127.0.0.1", 0))
    async with Picky() + Watcher() + server:
        address = await server.wait_ready()
        reader, writer = await asyncio.open_connection(*address)
        try:
            writer.write(b"bad")
            await asyncio.wait_for(reported.wait(), 5)  # a separate read from the next
            writer.write(b"good")
            assert await asyncio.wait_for(reader.readexactly(4), 5) == b"good"
        finally:
            writer.close()
            await writer.wait_closed()
    [(error, name)] = reports
    assert isinstance(error, ValueError)
    assert name == "read"


async def test_our_address_is_asked_of_the_transport_only_when_wanted(recorder: Any) -> None:
    server = TCPServer(("127.0.0.1", 0))
    log = recorder()
    async with log + server:
        address = await server.wait_ready()
        _reader, writer = await asyncio.open_connection(*address)
        await log.until("connect")
        sock = log.named("connect")[-1].args[0]
        assert "_local" not in vars(sock)  # nobody asked yet
        writer.close()
        await writer.wait_closed()
        await log.until("disconnect")
        assert sock.local == address  # still answered once the connection is gone
        assert vars(sock)["_local"] == address
        sock.local = ("10.0.0.1", 80)  # a test double may set it
        assert sock.local == ("10.0.0.1", 80)
