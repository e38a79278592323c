"""relays-sockets' own transport (``_transport.SocketTransport``), on socket pairs.

Each test drives one end of a connected pair through the transport and watches the
other end with plain blocking-free socket calls, so what the peer receives is exact.
"""

from __future__ import annotations

import asyncio
import socket
import tempfile
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from relays_sockets._transport import SocketTransport


class Recording(asyncio.BufferedProtocol):
    """Records every callback; optionally keeps a half-closed connection open."""

    def __init__(self, keep_open_on_eof: bool = False) -> None:
        self.events: list[Any] = []
        self.data = bytearray()
        self.view = memoryview(bytearray(4096))
        self.keep_open_on_eof = keep_open_on_eof
        self.lost: asyncio.Future[Any] = asyncio.get_running_loop().create_future()

    def connection_made(self, transport: Any) -> None:
        self.events.append("made")
        self.transport = transport

    def get_buffer(self, sizehint: int) -> memoryview:
        return self.view

    def buffer_updated(self, nbytes: int) -> None:
        self.data += self.view[:nbytes]
        self.events.append(("read", nbytes))

    def eof_received(self) -> bool:
        self.events.append("eof")
        return self.keep_open_on_eof

    def pause_writing(self) -> None:
        self.events.append("pause_writing")

    def resume_writing(self) -> None:
        self.events.append("resume_writing")

    def connection_lost(self, exc: Exception | None) -> None:
        self.events.append(("lost", exc))
        self.lost.set_result(exc)


class Plain(asyncio.Protocol):
    def __init__(self) -> None:
        self.data = bytearray()
        self.got = asyncio.Event()

    def data_received(self, data: bytes) -> None:
        self.data += data
        self.got.set()


@pytest.fixture
def pair() -> Any:
    ours, peer = socket.socketpair()
    ours.setblocking(False)
    peer.setblocking(False)
    yield ours, peer
    ours.close()
    peer.close()


async def until(condition: Any, timeout: float = 5.0) -> None:
    """Poll *condition* (socket state, callbacks) while the loop runs, up to *timeout*."""
    async with asyncio.timeout(timeout):
        while not condition():  # noqa: ASYNC110 - nothing to wait on but the loop
            await asyncio.sleep(0.001)


async def receive_all(peer: socket.socket, size: int) -> bytes:
    """Read *size* bytes on the peer end (the loop keeps running meanwhile)."""
    loop = asyncio.get_running_loop()
    received = bytearray()
    while len(received) < size:
        chunk = await asyncio.wait_for(loop.sock_recv(peer, 1 << 16), 5)
        assert chunk, "the transport closed early"
        received += chunk
    return bytes(received)


async def test_reads_and_writes_and_closes_after_a_loop_turn(pair: Any) -> None:
    ours, peer = pair
    protocol = Recording()
    transport = SocketTransport(asyncio.get_running_loop(), ours, protocol, "peer", "us")
    assert protocol.events == ["made"]  # at once, not on the next turn
    peer.send(b"hello")
    await until(lambda: protocol.data == b"hello")
    transport.write(b"world")
    assert await receive_all(peer, 5) == b"world"
    transport.close()
    assert transport.is_closing()
    assert protocol.events[-1] == ("read", 5)  # connection_lost never inside close()
    assert await protocol.lost is None
    assert ours.fileno() == -1
    assert peer.recv(10) == b""  # the peer sees the end
    transport.close()  # twice is fine


async def test_plain_protocols_get_data_received(pair: Any) -> None:
    ours, peer = pair
    protocol = Plain()
    transport = SocketTransport(asyncio.get_running_loop(), ours, protocol, "peer")
    peer.send(b"plain bytes")
    await until(lambda: protocol.data == b"plain bytes")
    transport.abort()


async def test_what_the_kernel_does_not_take_is_buffered_with_flow_control(pair: Any) -> None:
    ours, peer = pair
    ours.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
    protocol = Recording()
    transport = SocketTransport(asyncio.get_running_loop(), ours, protocol, "peer")
    transport.set_write_buffer_limits(high=64 * 1024, low=16 * 1024)
    assert transport.get_write_buffer_limits() == (16 * 1024, 64 * 1024)
    payload = bytes(range(256)) * 2048  # 512 KiB: far more than the socket takes
    transport.write(payload)
    assert transport.get_write_buffer_size() > 64 * 1024
    assert protocol.events[-1] == "pause_writing"
    transport.close()  # waits for the buffer
    assert await receive_all(peer, len(payload)) == payload
    assert await protocol.lost is None
    assert "resume_writing" in protocol.events
    assert transport.get_write_buffer_size() == 0


async def test_a_half_closed_peer_can_still_be_answered_when_the_protocol_says_so(
    pair: Any,
) -> None:
    ours, peer = pair
    protocol = Recording(keep_open_on_eof=True)
    transport = SocketTransport(asyncio.get_running_loop(), ours, protocol, "peer")
    peer.send(b"question")
    peer.shutdown(socket.SHUT_WR)
    await until(lambda: "eof" in protocol.events)
    assert not transport.is_closing()
    transport.resume_reading()  # nothing more to read: stays unregistered
    transport.write(b"answer")
    transport.write_eof()
    with pytest.raises(RuntimeError, match="write_eof"):
        transport.write(b"more")
    assert await receive_all(peer, 6) == b"answer"
    await until(lambda: peer.recv(10) == b"")  # our end shut down its side
    transport.close()
    assert await protocol.lost is None


async def test_eof_closes_when_the_protocol_does_not_keep_it(pair: Any) -> None:
    ours, peer = pair
    protocol = Recording()
    SocketTransport(asyncio.get_running_loop(), ours, protocol, "peer")
    peer.shutdown(socket.SHUT_WR)
    assert await protocol.lost is None
    assert protocol.events == ["made", "eof", ("lost", None)]


async def test_abort_drops_what_is_buffered(pair: Any) -> None:
    ours, _peer = pair
    ours.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
    protocol = Recording()
    transport = SocketTransport(asyncio.get_running_loop(), ours, protocol, "peer")
    transport.write(b"x" * 1_000_000)
    assert transport.get_write_buffer_size()
    transport.abort()
    assert transport.get_write_buffer_size() == 0
    assert await protocol.lost is None
    transport.write(b"after")  # ignored, as asyncio does once the connection is lost


async def test_a_reset_peer_ends_the_connection_with_the_error_and_no_report(pair: Any) -> None:
    ours, peer = pair
    reports: list[Any] = []
    loop = asyncio.get_running_loop()
    loop.set_exception_handler(lambda loop, context: reports.append(context))
    try:
        protocol = Recording()
        transport = SocketTransport(loop, ours, protocol, "peer")
        peer.close()
        transport.write(b"to nobody")
        error = await protocol.lost
        assert isinstance(error, OSError)
        assert reports == []
    finally:
        loop.set_exception_handler(None)


async def test_a_failing_protocol_is_reported_and_its_connection_closed(pair: Any) -> None:
    ours, peer = pair
    reports: list[Any] = []
    loop = asyncio.get_running_loop()
    loop.set_exception_handler(lambda loop, context: reports.append(context))

    class Broken(Recording):
        def buffer_updated(self, nbytes: int) -> None:
            raise ValueError("bad protocol")

    try:
        protocol = Broken()
        SocketTransport(loop, ours, protocol, "peer")
        peer.send(b"boom")
        error = await protocol.lost
        assert isinstance(error, ValueError)
        [report] = reports
        assert "buffer_updated" in report["message"]
    finally:
        loop.set_exception_handler(None)


async def test_paused_reading_reads_nothing_until_resumed(pair: Any) -> None:
    ours, peer = pair
    protocol = Recording()
    transport = SocketTransport(asyncio.get_running_loop(), ours, protocol, "peer")
    transport.pause_reading()
    assert not transport.is_reading()
    peer.send(b"waiting")
    await asyncio.sleep(0.05)
    assert protocol.data == b""
    transport.resume_reading()
    assert transport.is_reading()
    await until(lambda: protocol.data == b"waiting")
    transport.close()
    assert not transport.is_reading()


async def test_details_stay_readable_after_the_close() -> None:
    with socket.create_server(("127.0.0.1", 0)) as listening:
        peer = socket.create_connection(listening.getsockname())
        ours, _ = listening.accept()
    ours.setblocking(False)
    expected = ours.getsockname()
    protocol = Recording()
    transport = SocketTransport(asyncio.get_running_loop(), ours, protocol, ("10.0.0.2", 1))
    assert transport.get_extra_info("peername") == ("10.0.0.2", 1)
    assert transport.get_extra_info("socket").fileno() == ours.fileno()
    assert transport.get_extra_info("cipher", "none") == "none"
    transport.close()
    await protocol.lost
    assert ours.fileno() == -1
    # Not asked before the close: asked at the close.
    assert transport.get_extra_info("sockname") == expected
    peer.setblocking(False)
    given = SocketTransport(asyncio.get_running_loop(), peer, Recording(), "p", ("1.2.3.4", 5))
    assert given.get_extra_info("sockname") == ("1.2.3.4", 5)  # as the listener said
    given.abort()
    await given.get_protocol().lost  # type: ignore[attr-defined]


async def test_eager_reads_what_is_there_before_registering(pair: Any) -> None:
    ours, peer = pair
    peer.send(b"first")

    class Answering(Recording):
        def buffer_updated(self, nbytes: int) -> None:
            super().buffer_updated(nbytes)
            self.transport.write(b"reply")
            self.transport.close()

    protocol = Answering()
    transport = SocketTransport(asyncio.get_running_loop(), ours, protocol, "peer", eager=True)
    assert protocol.events == ["made", ("read", 5)]  # read inside the constructor
    assert not transport._reader  # closed: never registered
    assert await protocol.lost is None
    assert await receive_all(peer, 5) == b"reply"


async def test_eager_with_nothing_there_yet_registers_and_waits(pair: Any) -> None:
    ours, peer = pair
    protocol = Recording()
    transport = SocketTransport(asyncio.get_running_loop(), ours, protocol, "peer", eager=True)
    assert transport._reader
    peer.send(b"later")
    await until(lambda: protocol.data == b"later")
    transport.close()


async def test_writes_take_any_bytes_like_object_by_its_size_in_bytes(pair: Any) -> None:
    ours, peer = pair
    transport = SocketTransport(asyncio.get_running_loop(), ours, Recording(), "peer")
    words = memoryview(bytearray(b"\x01\x00\x02\x00")).cast("H")
    transport.write(words)
    transport.write(bytearray(b"!"))
    transport.writelines([b"a", b"b"])
    assert await receive_all(peer, 7) == b"\x01\x00\x02\x00!ab"
    with pytest.raises(TypeError, match="bytes-like"):
        transport.write("text")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="high"):
        transport.set_write_buffer_limits(high=1, low=2)
    transport.abort()


async def test_sendfile_sends_the_buffer_first_then_the_file(pair: Any) -> None:
    ours, peer = pair
    ours.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
    protocol = Recording()
    transport = SocketTransport(asyncio.get_running_loop(), ours, protocol, "peer")
    head = b"h" * 200_000
    body = bytes(range(256)) * 1000
    with tempfile.TemporaryFile() as file:
        file.write(body)
        file.flush()
        transport.write(head)
        assert transport.get_write_buffer_size()
        sending = asyncio.ensure_future(transport.sendfile(file, 0, None))
        received = await receive_all(peer, len(head) + len(body))
        assert await sending == len(body)
    assert received == head + body
    assert transport.is_reading()  # reading resumed after the transfer
    transport.close()


@settings(max_examples=40, deadline=None)
@given(
    chunks=st.lists(st.binary(min_size=0, max_size=70_000), max_size=12),
    send_buffer=st.sampled_from([4096, 16384, 65536]),
)
def test_the_peer_receives_every_write_in_order(chunks: list[bytes], send_buffer: int) -> None:
    async def main() -> tuple[bytes, Any]:
        ours, peer = socket.socketpair()
        ours.setblocking(False)
        peer.setblocking(False)
        ours.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, send_buffer)
        try:
            protocol = Recording()
            transport = SocketTransport(asyncio.get_running_loop(), ours, protocol, "peer")
            transport.set_write_buffer_limits(high=8192)
            for chunk in chunks:
                transport.write(chunk)
            transport.close()
            received = await receive_all(peer, sum(map(len, chunks)))
            return received, await protocol.lost
        finally:
            peer.close()

    received, error = asyncio.run(main())
    assert received == b"".join(chunks)
    assert error is None


async def test_lingering_lets_the_reply_arrive_although_input_was_unread() -> None:
    # Over TCP, as it matters there: a close with unread input resets the connection.
    with socket.create_server(("127.0.0.1", 0)) as listening:
        peer = socket.create_connection(listening.getsockname())
        ours, _ = listening.accept()
    ours.setblocking(False)
    peer.sendall(b"a request we never read" * 1000)
    protocol = Recording()
    transport = SocketTransport(asyncio.get_running_loop(), ours, protocol, "peer")
    transport.pause_reading()
    transport.write(b"refused")
    transport.linger(5)
    assert transport.is_closing()
    await asyncio.sleep(0.05)
    peer.sendall(b"and more after our reply")
    peer.setblocking(False)
    assert await receive_all(peer, 7) == b"refused"  # no reset destroyed it
    await until(lambda: peer.recv(10) == b"")  # then our side ended sending
    assert not protocol.lost.done()  # still reading the peer's rest
    peer.close()
    assert await protocol.lost is None
    assert protocol.data == b""  # discarded, never delivered


async def test_lingering_ends_after_its_timeout(pair: Any) -> None:
    ours, _peer = pair
    protocol = Recording()
    transport = SocketTransport(asyncio.get_running_loop(), ours, protocol, "peer")
    transport.linger(0.05)
    assert await protocol.lost is None  # the silent peer did not keep it open
    transport.linger(1)  # closed already: nothing happens


async def test_lingering_after_the_peer_ended_closes_at_once(pair: Any) -> None:
    ours, peer = pair
    protocol = Recording(keep_open_on_eof=True)
    transport = SocketTransport(asyncio.get_running_loop(), ours, protocol, "peer")
    peer.shutdown(socket.SHUT_WR)
    await until(lambda: "eof" in protocol.events)
    transport.linger(60)
    assert await asyncio.wait_for(protocol.lost, 1) is None
