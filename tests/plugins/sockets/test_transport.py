"""One conformance suite for the transports a relays-sockets connection may sit on:
relays' own (``_own_transport.SocketTransport``) on asyncio's selector loop and on
uvloop, asyncio's selector transport and uvloop's. Each test drives one end of a
connected pair through the transport and watches the other end with plain socket
calls, so what the peer receives is exact. Tests of what only our transport does (read
before registering, ...) come last, on both loops.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import os
import socket
import threading
import weakref
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import relays
from relays import Component
from relays.testing import Manager, Recorder
from relays.transports import Connect, SupportsDeferAccept, SupportsDrain, SupportsSendfile
from relays_sockets import SocketConnection, TCPClient, TCPServer
from relays_sockets._own_transport import SocketTransport

from .conftest import TRANSPORT_KINDS, on_uvloop, ours


@pytest.fixture(params=["asyncio", "uvloop"])
def own_loop(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Tests of our transport alone run on asyncio's selector loop and on uvloop,
    whichever loop the suite runs on."""
    if request.param == "uvloop":
        pytest.importorskip("uvloop")
    monkeypatch.setenv("RELAYS_UVLOOP", "1" if request.param == "uvloop" else "0")
    return str(request.param)


def new_loop(kind: str) -> asyncio.AbstractEventLoop:
    return relays.new_event_loop(use_uvloop=on_uvloop(kind))


Make = Callable[[socket.socket, asyncio.BaseProtocol], Awaitable[Any]]


@pytest.fixture
def make(kind: str) -> Make:
    """``await make(sock, protocol)``: the transport of *kind* over a connected socket,
    once ``connection_made`` has been called."""
    return lambda sock, protocol: over(kind, sock, protocol)


async def over(kind: str, sock: socket.socket, protocol: asyncio.BaseProtocol) -> Any:
    loop = asyncio.get_running_loop()
    if ours(kind):
        return SocketTransport(loop, sock, protocol, "peer")
    transport, _ = await loop.connect_accepted_socket(lambda: protocol, sock)
    return transport


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


@pytest.fixture
def tcp_pair() -> Any:
    """A connected pair over TCP on loopback (ours is the accepted end)."""
    with socket.create_server(("127.0.0.1", 0)) as listening:
        peer = socket.create_connection(listening.getsockname())
        ours, _ = listening.accept()
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


async def a_poll_has_passed() -> None:
    """Return once the loop has polled for I/O since the call: bytes sent before it
    are seen by then by every reader the loop has registered."""
    loop = asyncio.get_running_loop()
    marker, sender = socket.socketpair()
    with marker, sender:
        marker.setblocking(False)
        receiving = asyncio.ensure_future(loop.sock_recv(marker, 1))
        await asyncio.sleep(0)  # it found nothing and waits on the poll now
        sender.send(b"!")
        await asyncio.wait_for(receiving, 5)


async def receive_all(peer: socket.socket, size: int) -> bytes:
    """Read *size* bytes on the peer end (the loop keeps running meanwhile)."""
    loop = asyncio.get_running_loop()
    received = bytearray()
    while len(received) < size:
        chunk = await asyncio.wait_for(loop.sock_recv(peer, 1 << 16), 5)
        assert chunk, "the transport closed early"
        received += chunk
    return bytes(received)


async def test_reads_and_writes_and_closes_after_a_loop_turn(pair: Any, make: Make) -> None:
    ours, peer = pair
    protocol = Recording()
    transport = await make(ours, protocol)
    assert protocol.events == ["made"]
    peer.send(b"hello")
    await until(lambda: protocol.data == b"hello")
    transport.write(b"world")
    assert await receive_all(peer, 5) == b"world"
    transport.close()
    assert transport.is_closing()
    assert protocol.events[-1] == ("read", 5)  # connection_lost never inside close()
    assert await protocol.lost is None
    await until(lambda: peer.recv(10) == b"")  # the peer sees the end
    transport.close()  # twice is fine


async def test_plain_protocols_get_data_received(pair: Any, make: Make) -> None:
    ours, peer = pair
    protocol = Plain()
    transport = await make(ours, protocol)
    peer.send(b"plain bytes")
    await until(lambda: protocol.data == b"plain bytes")
    transport.abort()


async def test_what_the_kernel_does_not_take_is_buffered_with_flow_control(
    pair: Any, make: Make
) -> None:
    ours, peer = pair
    ours.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
    protocol = Recording()
    transport = await make(ours, protocol)
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
    pair: Any, make: Make
) -> None:
    ours, peer = pair
    protocol = Recording(keep_open_on_eof=True)
    transport = await make(ours, protocol)
    peer.send(b"question")
    peer.shutdown(socket.SHUT_WR)
    await until(lambda: "eof" in protocol.events)
    assert not transport.is_closing()
    transport.write(b"answer")
    transport.write_eof()
    with pytest.raises(RuntimeError, match="write_eof"):
        transport.write(b"more")
    assert await receive_all(peer, 6) == b"answer"
    await until(lambda: peer.recv(10) == b"")  # our end shut down its side
    transport.close()
    assert await protocol.lost is None


async def test_eof_closes_when_the_protocol_does_not_keep_it(pair: Any, make: Make) -> None:
    ours, peer = pair
    protocol = Recording()
    await make(ours, protocol)
    peer.shutdown(socket.SHUT_WR)
    assert await protocol.lost is None
    assert protocol.events == ["made", "eof", ("lost", None)]


class Answering(Recording):
    """Answers its first read and closes, inside ``buffer_updated``."""

    def buffer_updated(self, nbytes: int) -> None:
        super().buffer_updated(nbytes)
        self.transport.write(b"reply")
        self.transport.close()
        self.events.append("closed")  # close() has returned, and so will this call


async def test_a_protocol_closing_in_a_read_hears_of_it_once_the_read_returned(
    pair: Any, make: Make
) -> None:
    ours, peer = pair
    protocol = Answering()
    await make(ours, protocol)
    peer.send(b"first")
    assert await protocol.lost is None
    assert protocol.events == ["made", ("read", 5), "closed", ("lost", None)]
    assert await receive_all(peer, 5) == b"reply"
    await until(lambda: peer.recv(10) == b"")


async def test_a_protocol_closing_then_failing_is_lost_once_without_the_error(
    pair: Any, make: Make
) -> None:
    ours, peer = pair
    reports: list[Any] = []
    loop = asyncio.get_running_loop()
    loop.set_exception_handler(lambda loop, context: reports.append(context))

    class ClosingThenBroken(Recording):
        def buffer_updated(self, nbytes: int) -> None:
            self.transport.close()
            raise ValueError("bad protocol")

    try:
        protocol = ClosingThenBroken()
        await make(ours, protocol)
        peer.send(b"boom")
        assert await protocol.lost is None  # it closed before it failed
        await a_poll_has_passed()
        assert protocol.events == ["made", ("lost", None)]
        [report] = reports
        assert isinstance(report["exception"], ValueError)
    finally:
        loop.set_exception_handler(None)


async def test_abort_drops_what_is_buffered(pair: Any, make: Make) -> None:
    ours, _peer = pair
    ours.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
    protocol = Recording()
    transport = await make(ours, protocol)
    transport.write(b"x" * 1_000_000)
    assert transport.get_write_buffer_size()
    transport.abort()
    assert await protocol.lost is None
    assert transport.get_write_buffer_size() == 0


async def test_a_reset_peer_ends_the_connection_with_the_error_and_no_report(
    pair: Any, make: Make
) -> None:
    ours, peer = pair
    reports: list[Any] = []
    loop = asyncio.get_running_loop()
    loop.set_exception_handler(lambda loop, context: reports.append(context))
    try:
        protocol = Recording()
        transport = await make(ours, protocol)
        peer.close()
        transport.write(b"to nobody")
        error = await protocol.lost
        assert isinstance(error, OSError)
        assert reports == []
    finally:
        loop.set_exception_handler(None)


async def test_a_failing_protocol_is_reported_and_its_connection_closed(
    pair: Any, make: Make
) -> None:
    ours, peer = pair
    reports: list[Any] = []
    loop = asyncio.get_running_loop()
    loop.set_exception_handler(lambda loop, context: reports.append(context))

    class Broken(Recording):
        def buffer_updated(self, nbytes: int) -> None:
            raise ValueError("bad protocol")

    try:
        protocol = Broken()
        await make(ours, protocol)
        peer.send(b"boom")
        error = await protocol.lost
        assert isinstance(error, ValueError)
        [report] = reports
        assert "Fatal error" in report["message"]
        assert report["exception"] is error
    finally:
        loop.set_exception_handler(None)


async def test_paused_reading_reads_nothing_until_resumed(pair: Any, make: Make) -> None:
    ours, peer = pair
    protocol = Recording()
    transport = await make(ours, protocol)
    transport.pause_reading()
    assert not transport.is_reading()
    peer.send(b"waiting")
    await a_poll_has_passed()
    assert protocol.data == b""
    transport.resume_reading()
    assert transport.is_reading()
    await until(lambda: protocol.data == b"waiting")
    transport.close()
    assert not transport.is_reading()


async def test_the_socket_and_the_addresses_are_given(tcp_pair: Any, make: Make) -> None:
    ours, _peer = tcp_pair
    expected = ours.getsockname()
    protocol = Recording()
    transport = await make(ours, protocol)
    assert transport.get_extra_info("socket").fileno() == ours.fileno()
    assert transport.get_extra_info("sockname") == expected
    assert transport.get_extra_info("cipher", "none") == "none"
    transport.close()
    await protocol.lost


async def test_writes_take_any_bytes_like_object_by_its_size_in_bytes(
    pair: Any, make: Make
) -> None:
    ours, peer = pair
    transport = await make(ours, Recording())
    words = memoryview(bytearray(b"\x01\x00\x02\x00")).cast("H")
    transport.write(words)
    transport.write(bytearray(b"!"))
    transport.writelines([b"a", b"b"])
    assert await receive_all(peer, 7) == b"\x01\x00\x02\x00!ab"
    with pytest.raises(TypeError, match="bytes-like"):
        transport.write("text")
    with pytest.raises(ValueError, match="high"):
        transport.set_write_buffer_limits(high=1, low=2)
    transport.abort()


async def test_a_new_protocol_takes_over_the_reads(pair: Any, make: Make) -> None:
    ours, peer = pair
    first, second = Recording(), Recording()
    transport = await make(ours, first)
    peer.send(b"one")
    await until(lambda: first.data == b"one")
    transport.set_protocol(second)
    assert transport.get_protocol() is second
    peer.send(b"two")
    await until(lambda: second.data == b"two")
    transport.close()
    assert await second.lost is None
    assert first.data == b"one"


@settings(max_examples=20, deadline=None)
@given(
    chunks=st.lists(st.binary(min_size=0, max_size=70_000), max_size=12),
    send_buffer=st.sampled_from([4096, 16384, 65536]),
    kind=st.sampled_from(TRANSPORT_KINDS),
)
def test_the_peer_receives_every_write_in_order(
    chunks: list[bytes], send_buffer: int, kind: str
) -> None:
    if on_uvloop(kind):
        pytest.importorskip("uvloop")

    async def main() -> tuple[bytes, Any]:
        ours, peer = socket.socketpair()
        ours.setblocking(False)
        peer.setblocking(False)
        ours.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, send_buffer)
        try:
            protocol = Recording()
            transport = await over(kind, ours, protocol)
            transport.set_write_buffer_limits(high=8192)
            for chunk in chunks:
                transport.write(chunk)
            transport.close()
            received = await receive_all(peer, sum(map(len, chunks)))
            return received, await protocol.lost
        finally:
            peer.close()

    loop = new_loop(kind)
    try:
        received, error = loop.run_until_complete(main())
    finally:
        loop.close()
    assert received == b"".join(chunks)
    assert error is None


# -- what only relays' own transport does ---------------------------------------------


@pytest.mark.usefixtures("own_loop")
async def test_ours_calls_connection_made_at_once_and_closes_the_socket(pair: Any) -> None:
    ours, _peer = pair
    protocol = Recording()
    transport = SocketTransport(asyncio.get_running_loop(), ours, protocol, "peer", "us")
    assert protocol.events == ["made"]  # at once, not on the next turn
    transport.close()
    assert await protocol.lost is None
    assert ours.fileno() == -1
    transport.write(b"after")  # ignored, as asyncio does once the connection is lost


@pytest.mark.usefixtures("own_loop")
async def test_a_closed_connection_is_freed_without_the_cycle_collector(pair: Any) -> None:
    # Short connections come by the thousand per second: left as cycles, they made the
    # cycle collector's passes the tail of the Connection: close latency.
    ours, _peer = pair
    protocol = Recording()
    transport = SocketTransport(asyncio.get_running_loop(), ours, protocol, "peer")
    transport.close()
    await protocol.lost
    assert transport.get_protocol() is None  # as asyncio's transports say once closed
    freed = weakref.ref(transport)
    gc.disable()
    try:
        del transport, protocol  # the protocol kept the transport: no cycle is left
        assert freed() is None
    finally:
        gc.enable()


@pytest.mark.usefixtures("own_loop")
async def test_a_handover_waiting_for_the_buffer_hears_that_the_connection_ended(
    pair: Any,
) -> None:
    # Only a connection with someone waiting for its buffer to go out makes the error
    # it is woken with; it must still be woken when the connection ends instead.
    ours, _peer = pair  # the peer reads nothing: the buffer stays
    protocol = Recording()
    transport = SocketTransport(asyncio.get_running_loop(), ours, protocol, "peer")
    transport.write(b"x" * (4 * 1024 * 1024))
    assert transport.get_write_buffer_size() > 0
    handover = asyncio.ensure_future(transport.hand_over_tls(Recording(), None, 1.0))
    await until(lambda: not transport.is_reading())  # it waits for the buffer now
    transport.abort()
    with pytest.raises(ConnectionError):
        async with asyncio.timeout(5):
            await handover
    assert await protocol.lost is None


@pytest.mark.usefixtures("own_loop")
async def test_our_details_stay_readable_after_the_close(tcp_pair: Any) -> None:
    ours, peer = tcp_pair
    expected = ours.getsockname()
    protocol = Recording()
    transport = SocketTransport(asyncio.get_running_loop(), ours, protocol, ("10.0.0.2", 1))
    assert transport.get_extra_info("peername") == ("10.0.0.2", 1)
    transport.close()
    await protocol.lost
    assert ours.fileno() == -1
    # Not asked before the close: asked at the close.
    assert transport.get_extra_info("sockname") == expected
    given = SocketTransport(asyncio.get_running_loop(), peer, Recording(), "p", ("1.2.3.4", 5))
    assert given.get_extra_info("sockname") == ("1.2.3.4", 5)  # as the listener said
    given.abort()
    await given.get_protocol().lost  # type: ignore[attr-defined]


@pytest.mark.usefixtures("own_loop")
async def test_eager_reads_what_is_there_before_registering(pair: Any) -> None:
    ours, peer = pair
    peer.send(b"first")
    protocol = Answering()
    transport = SocketTransport(asyncio.get_running_loop(), ours, protocol, "peer", eager=True)
    # Read, answered and closed inside the constructor: connection_lost too, once the
    # read had returned, and the socket is closed.
    assert protocol.events == ["made", ("read", 5), "closed", ("lost", None)]
    assert not transport._reader  # never registered
    assert ours.fileno() == -1
    assert await receive_all(peer, 5) == b"reply"


@pytest.mark.usefixtures("own_loop")
async def test_ours_calls_connection_lost_at_the_end_of_the_read_that_closed(
    pair: Any,
) -> None:
    # Not a loop turn later, as a close from outside a read (see the first test): what
    # the protocol scheduled before it closed runs after connection_lost.
    ours, peer = pair

    class AnsweringLater(Answering):
        def buffer_updated(self, nbytes: int) -> None:
            asyncio.get_running_loop().call_soon(self.events.append, "next turn")
            super().buffer_updated(nbytes)

    protocol = AnsweringLater()
    SocketTransport(asyncio.get_running_loop(), ours, protocol, "peer")
    peer.send(b"first")
    await until(lambda: "next turn" in protocol.events)
    assert protocol.events == ["made", ("read", 5), "closed", ("lost", None), "next turn"]


@pytest.mark.usefixtures("own_loop")
async def test_ours_refused_in_connection_made_is_lost_once_it_returned(pair: Any) -> None:
    ours, _peer = pair

    class Refusing(Recording):
        def connection_made(self, transport: Any) -> None:
            super().connection_made(transport)
            transport.abort()
            self.events.append("aborted")

    protocol = Refusing()
    transport = SocketTransport(asyncio.get_running_loop(), ours, protocol, "peer", eager=True)
    assert protocol.events == ["made", "aborted", ("lost", None)]
    assert ours.fileno() == -1
    transport.close()  # nothing more happens
    await a_poll_has_passed()
    assert protocol.events == ["made", "aborted", ("lost", None)]


@pytest.mark.usefixtures("own_loop")
@pytest.mark.parametrize("timeout", [None, 30.0], ids=["blocking", "with-a-timeout"])
async def test_ours_never_blocks_on_a_socket_left_blocking(
    pair: Any, timeout: float | None
) -> None:
    # The listener leaves new connections blocking (one system call less each): every
    # receive and send says MSG_DONTWAIT, and the socket is made non-blocking when
    # handed out. A socket with a timeout (socket.setdefaulttimeout() gives every new
    # socket one) would poll before each call whatever the flag: it is made non-blocking.
    # Should a call block, the timer ends it and the test fails, not hangs.
    ours, peer = pair
    ours.settimeout(timeout)
    ours.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
    rescue = threading.Timer(5, peer.shutdown, (socket.SHUT_RDWR,))
    rescue.start()
    try:
        protocol = Recording()
        loop = asyncio.get_running_loop()
        transport = SocketTransport(loop, ours, protocol, "peer", eager=True)  # nothing there
        transport.write(b"x" * 1_000_000)  # far more than the socket takes
        assert transport.get_write_buffer_size()
        assert transport.get_extra_info("socket").gettimeout() == 0  # non-blocking now
        transport.abort()
        assert await protocol.lost is None
    finally:
        rescue.cancel()


@pytest.mark.usefixtures("own_loop")
async def test_eager_with_nothing_there_yet_registers_and_waits(pair: Any) -> None:
    ours, peer = pair
    protocol = Recording()
    transport = SocketTransport(asyncio.get_running_loop(), ours, protocol, "peer", eager=True)
    assert transport._reader
    peer.send(b"later")
    await until(lambda: protocol.data == b"later")
    transport.close()


# -- a server's and a client's connections, whatever the transport under them -----------


async def test_every_tcp_connection_has_nodelay_server_and_client(serving: Any) -> None:
    server_side: asyncio.Future[SocketConnection] = asyncio.get_running_loop().create_future()

    class Watch(Component):
        def connect(self, sock: SocketConnection, host: str, port: int) -> None:
            server_side.set_result(sock)

    server = serving()
    client = TCPClient()
    log = Recorder()
    async with Watch() + server:
        host, port = await server.wait_ready()
        async with Manager() + log + client:
            client.fire(Connect(host, port))
            sock = await asyncio.wait_for(server_side, 5)
            await log.until("connected")
            assert client.sock is not None
            for connection in (sock, client.sock):
                raw = connection.get_extra_info("socket")
                assert raw.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY), connection


async def test_a_given_listening_socket_gets_nodelay_too(kind: str, roundtrip: Any) -> None:
    listening = socket.create_server(("127.0.0.1", 0))  # proto 0: asyncio would not set it
    server = TCPServer(listening, fast_transport=ours(kind))
    nodelay: asyncio.Future[int] = asyncio.get_running_loop().create_future()

    class Watch(Component):
        def connect(self, sock: SocketConnection, host: str, port: int) -> None:
            raw = sock.get_extra_info("socket")
            nodelay.set_result(raw.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))

    async with Watch() + server:
        address = await server.wait_ready()
        _reader, writer = await asyncio.open_connection(*address)
        assert await asyncio.wait_for(nodelay, 5)
        writer.close()
        await writer.wait_closed()


class Refuser(Component):
    """Answers a connection's first bytes with a refusal and lingers."""

    def __init__(self, timeout: float | None = None) -> None:
        super().__init__()
        self.timeout = timeout
        self.gone = asyncio.Event()

    def read(self, sock: SocketConnection, data: bytes) -> None:
        if not sock.closing:
            sock.write(b"refused")
            sock.linger(self.timeout)

    def disconnect(self, sock: SocketConnection) -> None:
        self.gone.set()


async def test_lingering_lets_the_reply_arrive_although_input_was_unread(serving: Any) -> None:
    refuser = Refuser()
    server = serving()
    async with refuser + server:
        address = await server.wait_ready()
        reader, writer = await asyncio.open_connection(*address)
        writer.write(b"a request we never read" * 1000)
        assert await asyncio.wait_for(reader.readexactly(7), 5) == b"refused"
        writer.write(b"and more after our reply" * 1000)  # read and dropped, no reset
        assert await asyncio.wait_for(reader.read(), 5) == b""  # then our side ended
        assert not refuser.gone.is_set()  # still reading the peer's rest
        writer.close()
        await writer.wait_closed()
        await asyncio.wait_for(refuser.gone.wait(), 5)


async def test_lingering_ends_after_its_timeout(serving: Any) -> None:
    refuser = Refuser(timeout=0.05)
    server = serving()
    async with refuser + server:
        address = await server.wait_ready()
        reader, writer = await asyncio.open_connection(*address)
        writer.write(b"hello")
        assert await asyncio.wait_for(reader.readexactly(7), 5) == b"refused"
        # We never end our side: the timeout does.
        await asyncio.wait_for(refuser.gone.wait(), 5)
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()


async def test_lingering_after_the_peer_ended_closes_at_once(serving: Any) -> None:
    refuser = Refuser(timeout=60)
    server = serving()
    async with refuser + server:
        address = await server.wait_ready()
        reader, writer = await asyncio.open_connection(*address)
        writer.write(b"hello")
        writer.write_eof()
        assert await asyncio.wait_for(reader.read(), 5) == b"refused"
        await asyncio.wait_for(refuser.gone.wait(), 5)  # not the 60 s
        writer.close()
        await writer.wait_closed()


async def test_connections_and_servers_offer_the_kernels_capabilities(
    serving: Any, recorder: Any
) -> None:
    server = serving()
    assert isinstance(server, SupportsDeferAccept)
    log = recorder()
    async with log + server:
        address = await server.wait_ready()
        _reader, writer = await asyncio.open_connection(*address)
        sock = (await log.until("connect"))[0].args[0]
        assert isinstance(sock, SupportsDrain)
        assert isinstance(sock, SupportsSendfile)
        writer.close()
        await writer.wait_closed()


async def test_sendfile_goes_through_the_kernel_on_every_transport(
    serving: Any, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    content = bytes(range(256)) * 8192  # 2 MiB: more than a socket buffer holds
    (tmp_path / "blob").write_bytes(content)
    calls: list[int] = []
    real_sendfile = os.sendfile

    def counting(out_fd: int, in_fd: int, offset: int | None, count: int) -> int:
        calls.append(count)
        return real_sendfile(out_fd, in_fd, offset, count)

    monkeypatch.setattr(os, "sendfile", counting)

    class Files(Component):
        async def connect(self, sock: SocketConnection, host: str, port: int) -> None:
            sock.write(b"head:" * 100_000)  # buffered first: must go out before the file
            with (tmp_path / "blob").open("rb") as file:
                assert await sock.sendfile(file, 256, len(content) - 512) == len(content) - 512
            sock.write(b":tail")
            sock.close()

    server = serving()
    async with Files() + server:
        address = await server.wait_ready()
        reader, writer = await asyncio.open_connection(*address)
        received = await asyncio.wait_for(reader.read(), 10)
        writer.close()
        await writer.wait_closed()
    assert received == b"head:" * 100_000 + content[256:-256] + b":tail"
    assert calls  # the kernel sent it, not a copy through Python


# -- ours: a step's writes go out at its end, with the FIN when the step closed ----------


class RecordedSocket:
    """A real socket whose ``send`` and ``close`` calls are recorded on the way through."""

    def __init__(self, sock: socket.socket, fail_with: OSError | None = None) -> None:
        self.sock = sock
        self.calls: list[tuple[Any, ...]] = []
        self.fail_with = fail_with

    def send(self, data: Any, flags: int = 0) -> int:
        self.calls.append(("send", bytes(data), flags))
        if self.fail_with is not None:
            raise self.fail_with
        return self.sock.send(data, flags)

    def close(self) -> None:
        self.calls.append(("close",))
        self.sock.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.sock, name)


MORE = getattr(socket, "MSG_MORE", 0)


class Writing(Recording):
    """Writes *pieces* inside its first read, then closes when told to."""

    def __init__(self, *pieces: bytes, close: bool = True) -> None:
        super().__init__()
        self.pieces = pieces
        self.close = close
        self.sizes: list[int] = []

    def buffer_updated(self, nbytes: int) -> None:
        super().buffer_updated(nbytes)
        for piece in self.pieces:
            self.transport.write(piece)
            self.sizes.append(self.transport.get_write_buffer_size())
        if self.close:
            self.transport.close()


@pytest.mark.usefixtures("own_loop")
async def test_ours_sends_a_reads_writes_in_one_call_when_it_returns(pair: Any) -> None:
    ours, peer = pair
    recorded = RecordedSocket(ours)
    protocol = Writing(b"HTTP/1.1 200 OK\r\n", b"\r\n", b"hello", close=False)
    SocketTransport(asyncio.get_running_loop(), recorded, protocol, "peer")
    peer.send(b"GET")
    assert await receive_all(peer, 24) == b"HTTP/1.1 200 OK\r\n\r\nhello"
    # Held while the read ran (and counted as buffered), one send once it returned,
    # without "more to come": the connection stays open.
    assert protocol.sizes == [17, 19, 24]
    sends = [call for call in recorded.calls if call[0] == "send"]
    assert sends == [("send", b"HTTP/1.1 200 OK\r\n\r\nhello", socket.MSG_DONTWAIT)]
    assert protocol.transport.get_write_buffer_size() == 0


@pytest.mark.usefixtures("own_loop")
async def test_ours_sends_the_answer_of_a_read_that_closed_with_the_fin(pair: Any) -> None:
    ours, peer = pair
    recorded = RecordedSocket(ours)
    peer.send(b"GET")
    protocol = Writing(b"head ", b"body")
    SocketTransport(asyncio.get_running_loop(), recorded, protocol, "peer", eager=True)
    # "More to come", then the close: the kernel sends the FIN in the answer's segment.
    assert recorded.calls == [("send", b"head body", socket.MSG_DONTWAIT | MORE), ("close",)]
    assert protocol.events == ["made", ("read", 3), ("lost", None)]
    assert await receive_all(peer, 9) == b"head body"
    await until(lambda: peer.recv(10) == b"")


@pytest.mark.usefixtures("own_loop")
async def test_ours_sends_a_large_write_at_once_after_what_it_held(pair: Any) -> None:
    ours, peer = pair
    recorded = RecordedSocket(ours)
    large = b"x" * (100 * 1024)
    protocol = Writing(b"head", large)
    SocketTransport(asyncio.get_running_loop(), recorded, protocol, "peer")
    peer.send(b"GET")
    assert await receive_all(peer, 4 + len(large)) == b"head" + large
    first = next(call for call in recorded.calls if call[0] == "send")
    assert first[1].startswith(b"headxxx")  # the held bytes first, in the same send
    assert first[2] == socket.MSG_DONTWAIT  # sent inside the read: not the last
    await protocol.lost


@pytest.mark.usefixtures("own_loop")
async def test_ours_hands_out_its_socket_only_after_sending_what_it_held(pair: Any) -> None:
    ours, peer = pair
    recorded = RecordedSocket(ours)

    class Handing(Recording):
        def buffer_updated(self, nbytes: int) -> None:
            super().buffer_updated(nbytes)
            self.transport.write(b"head")
            handed = self.transport.get_extra_info("socket")
            os.write(handed.fileno(), b"file")  # past the transport, as sendfile does

    protocol = Handing()
    SocketTransport(asyncio.get_running_loop(), recorded, protocol, "peer")
    peer.send(b"GET")
    assert await receive_all(peer, 8) == b"headfile"


@pytest.mark.usefixtures("own_loop")
async def test_ours_closes_once_a_held_answer_the_kernel_took_in_part_is_out(
    pair: Any,
) -> None:
    ours, peer = pair
    ours.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
    answer = bytes(range(256)) * 240  # 60 KiB: held, more than the kernel takes at once
    protocol = Writing(answer)
    SocketTransport(asyncio.get_running_loop(), ours, protocol, "peer")
    peer.send(b"GET")
    await until(lambda: ("read", 3) in protocol.events)
    await a_poll_has_passed()
    assert not protocol.lost.done()  # the rest waits in our buffer, the socket open
    assert await receive_all(peer, len(answer)) == answer
    assert await protocol.lost is None
    await until(lambda: peer.recv(10) == b"")


@pytest.mark.usefixtures("own_loop")
async def test_ours_ends_with_the_error_when_the_held_answer_of_a_close_fails(
    pair: Any,
) -> None:
    ours, peer = pair
    reset = ConnectionResetError(104, "reset by peer")
    recorded = RecordedSocket(ours, fail_with=reset)
    peer.send(b"GET")
    protocol = Writing(b"answer")
    SocketTransport(asyncio.get_running_loop(), recorded, protocol, "peer", eager=True)
    assert protocol.events == ["made", ("read", 3), ("lost", reset)]
    assert recorded.calls[-1] == ("close",)


@pytest.mark.usefixtures("own_loop")
async def test_ours_shuts_down_writing_only_after_what_it_held(pair: Any) -> None:
    ours, peer = pair

    class Ending(Recording):
        def buffer_updated(self, nbytes: int) -> None:
            super().buffer_updated(nbytes)
            self.transport.write(b"last words")
            self.transport.write_eof()

    protocol = Ending()
    SocketTransport(asyncio.get_running_loop(), ours, protocol, "peer")
    peer.send(b"GET")
    assert await receive_all(peer, 10) == b"last words"
    await until(lambda: peer.recv(10) == b"")
