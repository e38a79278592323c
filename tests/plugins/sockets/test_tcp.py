"""TCP servers and clients on loopback: events, echo, handles, binding, bad peers."""

from __future__ import annotations

import asyncio
import socket
import struct
import threading
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from relays import Component
from relays.testing import Manager, drain, wait_for
from relays.transports import Close, Connect, Write
from relays_sockets import SocketConnection, TCPClient, TCPServer

pytestmark = pytest.mark.integration


class Echo(Component):
    def read(self, sock: SocketConnection, data: bytes) -> bytes:
        return data


async def test_echo_shortcut_writes_back_what_read_returns(roundtrip: Any) -> None:
    server = TCPServer("tcp://127.0.0.1:0")
    async with Echo() + server:
        address = await server.wait_ready()
        assert await roundtrip(address, b"hello, relays") == b"hello, relays"


async def test_ready_gives_the_real_port_when_bound_to_zero(recorder: Any) -> None:
    server = TCPServer(("127.0.0.1", 0))
    log = recorder()
    async with Manager() + log + server:
        await server.wait_ready()
    ready = log.named("ready")
    assert len(ready) == 1
    assert ready[0].args[0] is server
    assert ready[0].args[1] == server.address
    assert server.address[1] != 0
    assert log.named("closed"), "closed() is fired after stopping"


async def test_connect_and_disconnect_carry_a_hashable_handle(recorder: Any) -> None:
    server = TCPServer(("127.0.0.1", 0))
    log = recorder()
    async with Manager() + log + server:
        address = await server.wait_ready()
        _reader, writer = await asyncio.open_connection(*address)
        await log.until("connect")
        connect = log.named("connect")[-1]
        sock, host, port = connect.args
        assert isinstance(sock, SocketConnection)
        assert (host, port) == writer.get_extra_info("sockname")[:2]
        assert sock.peer == (host, port)
        assert sock.local == address
        assert not sock.secure
        assert {sock: "kept"}[sock] == "kept"
        assert sock in server.connections
        assert sock.get_extra_info("socket") is not None
        writer.close()
        await writer.wait_closed()
        await log.until("disconnect")
        assert log.named("disconnect")[-1].args == (sock,)
        assert sock.closing
        assert sock not in server.connections


@pytest.mark.parametrize("defer_accept", [None, 1.0], ids=["registered", "deferred"])
async def test_a_read_handler_that_answers_and_closes_sees_disconnect_after_it(
    defer_accept: float | None,
) -> None:
    # On the own transport the connection ends in the step of the read that closed it
    # (deferred: the step that accepted it); on any transport, only once the read
    # handler has returned, and the reply goes out whole.
    seen: list[Any] = []

    class Answering(Component):
        def connect(self, sock: SocketConnection, host: str, port: int) -> None:
            seen.append("connect")

        def read(self, sock: SocketConnection, data: bytes) -> None:
            seen.append(("read", data))
            sock.write(b"answer to " + data)
            sock.close()
            seen.append("closed")

        def disconnect(self, sock: SocketConnection) -> None:
            seen.append(("disconnect", sock.closing, sock in server.connections))

    server = TCPServer(("127.0.0.1", 0), defer_accept=defer_accept)
    async with Answering() + server:
        address = await server.wait_ready()
        reader, writer = await asyncio.open_connection(*address)
        writer.write(b"question")
        assert await asyncio.wait_for(reader.read(), 5) == b"answer to question"
        writer.close()
        async with asyncio.timeout(5):  # the server closed its socket after disconnect
            while len(seen) < 4:  # noqa: ASYNC110 - nothing to wait on but the loop
                await asyncio.sleep(0.001)
    assert seen == ["connect", ("read", b"question"), "closed", ("disconnect", True, False)]


async def test_write_and_close_events_reach_the_connection() -> None:
    class Greeter(Component):
        def connect(self, sock: SocketConnection, host: str, port: int) -> None:
            self.fire(Write(sock, b"welcome\n"), "server")
            self.fire(Close(sock), "server")

    server = TCPServer(("127.0.0.1", 0))
    async with Greeter() + server:
        address = await server.wait_ready()
        reader, writer = await asyncio.open_connection(*address)
        assert await asyncio.wait_for(reader.read(), 5) == b"welcome\n"  # then EOF
        writer.close()
        await writer.wait_closed()


async def test_write_on_a_closed_connection_is_an_error_event(recorder: Any) -> None:
    server = TCPServer(("127.0.0.1", 0))
    log = recorder()
    async with Manager() + log + server:
        address = await server.wait_ready()
        _reader, writer = await asyncio.open_connection(*address)
        await log.until("connect")
        sock = log.named("connect")[-1].args[0]
        sock.close()
        await log.until("disconnect")
        sock.write(b"too late")
        await log.until("error")
        error = log.named("error")[-1]
        assert error.args[0] is sock
        assert isinstance(error.args[1], ConnectionError)
        writer.close()
        await writer.wait_closed()


async def test_ipv6_by_address(roundtrip: Any) -> None:
    if not socket.has_ipv6:
        pytest.skip("no IPv6")
    server = TCPServer("tcp6://[::1]:0")
    async with Echo() + server:
        host, port = await server.wait_ready()
        assert host == "::1"
        assert await roundtrip((host, port), b"six") == b"six"


async def test_ipv6_connect_carries_the_peer_as_a_host_and_port_pair(recorder: Any) -> None:
    # IPv6 addresses come from the socket as 4-tuples; the events and handle carry pairs.
    if not socket.has_ipv6:
        pytest.skip("no IPv6")
    server = TCPServer("tcp6://[::1]:0")
    log = recorder()
    async with Echo() + log + server:
        address = await server.wait_ready()
        _reader, writer = await asyncio.open_connection(*address)
        sock, host, port = (await log.until("connect"))[0].args
        assert (host, port) == writer.get_extra_info("sockname")[:2]
        assert sock.peer == (host, port)
        assert sock.local == address
        writer.close()
        await writer.wait_closed()
        assert (await log.until("disconnect"))[0].args == (sock,)


async def test_pre_bound_socket(roundtrip: Any) -> None:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    address = listener.getsockname()
    server = TCPServer(listener)
    async with Echo() + server:
        assert await server.wait_ready() == address
        assert await roundtrip(address, b"activated") == b"activated"


@pytest.mark.skipif(not hasattr(socket, "SO_REUSEPORT"), reason="no SO_REUSEPORT")
async def test_reuse_port_lets_two_servers_share_a_port(roundtrip: Any) -> None:
    first = TCPServer(("127.0.0.1", 0), reuse_port=True)
    async with Echo() + first:
        address = await first.wait_ready()
        second = TCPServer(address, reuse_port=True)
        async with Echo() + second:
            assert await second.wait_ready() == address
            assert await roundtrip(address, b"shared") == b"shared"


async def test_address_in_use_is_an_error_not_a_crash(recorder: Any, roundtrip: Any) -> None:
    first = TCPServer(("127.0.0.1", 0))
    async with Echo() + first:
        address = await first.wait_ready()
        log = recorder()
        second = TCPServer(address)
        async with Manager() + log + second:
            with pytest.raises(OSError, match="in use"):
                await second.wait_ready()
            await log.until("error")
            assert isinstance(log.named("error")[-1].args[1], OSError)
        assert await roundtrip(address, b"still") == b"still"


async def test_server_registered_into_a_running_tree_starts_listening(roundtrip: Any) -> None:
    app = Echo()
    async with app:
        server = TCPServer(("127.0.0.1", 0))
        server.register(app)
        address = await server.wait_ready()
        assert await roundtrip(address, b"late") == b"late"
        server.unregister()
        await drain(app)  # the ``unregistered`` handler, which stops listening, has run
        assert not server.listening


async def test_half_close_still_gets_the_reply_then_eof() -> None:
    server = TCPServer(("127.0.0.1", 0))
    async with Echo() + server:
        address = await server.wait_ready()
        reader, writer = await asyncio.open_connection(*address)
        writer.write(b"last words")
        writer.write_eof()
        assert await asyncio.wait_for(reader.read(), 5) == b"last words"
        writer.close()
        await writer.wait_closed()


async def test_without_an_eof_handler_a_half_closed_echo_closes(recorder: Any) -> None:
    server = TCPServer(("127.0.0.1", 0))
    log = recorder()
    async with Echo() + log + server:
        address = await server.wait_ready()
        reader, writer = await asyncio.open_connection(*address)
        writer.write(b"ping")
        writer.write_eof()
        assert await asyncio.wait_for(reader.read(), 5) == b"ping"  # then EOF: closed
        await log.until("disconnect")
        assert not log.named("eof")
        writer.close()
        await writer.wait_closed()


async def test_an_eof_handler_keeps_a_half_closed_connection_open_for_writing(
    recorder: Any,
) -> None:
    class Summer(Component):
        """Adds up the numbers a peer sends; answers the total after its EOF, later."""

        def __init__(self) -> None:
            super().__init__()
            self.received = b""
            self.answer = asyncio.Event()

        def read(self, sock: SocketConnection, data: bytes) -> None:
            self.received += data

        async def eof(self, sock: SocketConnection) -> None:
            await self.answer.wait()  # the answer comes after the EOF, when the test says
            total = sum(int(word) for word in self.received.split())
            sock.write(b"%d\n" % total)
            sock.close()

    server = TCPServer(("127.0.0.1", 0))
    log = recorder()
    summer = Summer()
    async with summer + log + server:
        address = await server.wait_ready()
        reader, writer = await asyncio.open_connection(*address)
        writer.write(b"1 2 3 ")
        writer.write(b"4")
        writer.write_eof()
        await log.until("eof")
        summer.answer.set()
        assert await asyncio.wait_for(reader.read(), 5) == b"10\n"
        assert [event.args[0] for event in log.named("eof")] == [
            event.args[0] for event in log.named("connect")
        ]
        writer.close()
        await writer.wait_closed()


async def test_a_peer_that_vanishes_does_not_stop_the_server(
    recorder: Any, roundtrip: Any
) -> None:
    server = TCPServer(("127.0.0.1", 0))
    log = recorder()
    async with Echo() + log + server:
        address = await server.wait_ready()
        for _ in range(5):
            rude = socket.socket()
            rude.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            rude.connect(address)
            rude.send(b"half a mess")
            rude.close()  # RST
        assert await roundtrip(address, b"fine") == b"fine"
        await log.until("disconnect", 6)
        assert not server.connections


async def test_graceful_stop_waits_for_busy_connections_and_closes_idle_ones() -> None:
    working = asyncio.Event()
    finish = asyncio.Event()

    class Slow(Component):
        """Answers when the test says so, marking the connection busy meanwhile."""

        async def read(self, sock: SocketConnection, data: bytes) -> None:
            if data == b"idle":
                sock.write(b"ok")
                return
            sock.busy = True
            working.set()
            await finish.wait()
            sock.write(b"done")
            sock.busy = False

    server = TCPServer(("127.0.0.1", 0), shutdown_timeout=30)
    app = Slow() + server
    async with app:
        address = await server.wait_ready()
        busy_reader, busy_writer = await asyncio.open_connection(*address)
        idle_reader, idle_writer = await asyncio.open_connection(*address)
        idle_writer.write(b"idle")
        assert await asyncio.wait_for(idle_reader.readexactly(2), 5) == b"ok"
        busy_writer.write(b"work")
        await asyncio.wait_for(working.wait(), 5)
        stopping = asyncio.ensure_future(app.__aexit__(None, None, None))
        # The idle one is closed while the busy one still works (its answer is held
        # back until now, far within the 30 s shutdown_timeout).
        assert await asyncio.wait_for(idle_reader.read(), 5) == b""
        assert not stopping.done()
        finish.set()
        assert await asyncio.wait_for(busy_reader.read(), 5) == b"done"
        await asyncio.wait_for(stopping, 5)
        for writer in (busy_writer, idle_writer):
            writer.close()
            await writer.wait_closed()


async def test_graceful_stop_gives_up_on_busy_connections_after_the_shutdown_timeout(
    caplog: pytest.LogCaptureFixture,
) -> None:
    stuck = asyncio.Event()

    class Stuck(Component):
        def read(self, sock: SocketConnection, data: bytes) -> None:
            sock.busy = True  # and never done
            stuck.set()

    server = TCPServer(("127.0.0.1", 0), shutdown_timeout=0.2)
    app = Stuck() + server
    async with app:
        address = await server.wait_ready()
        reader, writer = await asyncio.open_connection(*address)
        writer.write(b"hang")
        await asyncio.wait_for(stuck.wait(), 5)
        stopping = asyncio.ensure_future(app.__aexit__(None, None, None))
        assert await asyncio.wait_for(reader.read(), 5) == b""
        await asyncio.wait_for(stopping, 5)
        assert "still busy after 0.2 s" in caplog.text  # closed by the timeout, not as idle
        writer.close()
        await writer.wait_closed()


async def test_graceful_stop_sends_queued_data_then_closes(recorder: Any) -> None:
    class Burst(Component):
        def connect(self, sock: SocketConnection, host: str, port: int) -> None:
            sock.write(b"x" * 2_000_000)  # far more than the socket buffers hold

    server = TCPServer(("127.0.0.1", 0))
    log = recorder()
    app = Burst() + log + server
    async with app:
        address = await server.wait_ready()
        reader, writer = await asyncio.open_connection(*address)
        await log.until("connect")
        stopping = asyncio.ensure_future(app.__aexit__(None, None, None))
        received = await asyncio.wait_for(reader.read(), 10)
        await stopping
        writer.close()
        await writer.wait_closed()
    assert len(received) == 2_000_000
    assert log.named("closed")


async def test_client_connects_reads_writes_and_disconnects(recorder: Any) -> None:
    server = TCPServer(("127.0.0.1", 0))
    async with Echo() + server:
        host, port = await server.wait_ready()
        client = TCPClient()
        log = recorder()
        async with Manager() + log + client:
            client.fire(Connect(host, port))
            assert await wait_for(client, "connected") is None
            assert log.named("connected")[-1].args == (host, port)
            assert client.connected
            client.fire(Write(b"ping"))
            await log.until("read")
            assert b"".join(e.args[0] for e in log.named("read")) == b"ping"
            client.fire(Close())
            await wait_for(client, "disconnected")
            assert not client.connected


async def test_client_with_an_address_connects_when_started() -> None:
    server = TCPServer(("127.0.0.1", 0))
    async with Echo() + server:
        host, port = await server.wait_ready()
        client = TCPClient(f"tcp://{host}:{port}")
        app = Manager() + client
        connected = asyncio.ensure_future(wait_for(app, "connected"))
        async with app:
            await connected
            assert client.sock is not None
            assert client.sock.peer == (host, port)


async def test_client_reports_an_unreachable_peer(recorder: Any) -> None:
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()  # nobody listens there now
    client = TCPClient()
    log = recorder()
    async with Manager() + log + client:
        client.fire(Connect("127.0.0.1", port))
        await wait_for(client, "unreachable")
        host, unreachable_port, reason = log.named("unreachable")[-1].args
        assert (host, unreachable_port) == ("127.0.0.1", port)
        assert isinstance(reason, ConnectionRefusedError)
        client.fire(Write(b"nobody"))
        await log.until("error")


def test_addresses_that_are_not_tcp_are_refused() -> None:
    with pytest.raises(ValueError, match="UNIXServer"):
        TCPServer("unix:///tmp/x.sock")
    with pytest.raises(ValueError, match="port"):
        TCPServer("tcp://localhost:99999")


@pytest.fixture(scope="module")
def echo_server_address() -> Any:
    """An echo server running in a background thread for the whole module."""
    listening = threading.Event()

    class Echoing(Echo):
        def ready(self, server: Any, address: Any) -> None:
            listening.set()

    server = TCPServer(("127.0.0.1", 0))
    app = Echoing() + server
    app.start()
    try:
        assert listening.wait(10), "the echo server did not start listening"
        yield server.address
    finally:
        app.stop()


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    pieces=st.lists(st.binary(min_size=1, max_size=2048), min_size=1, max_size=12),
)
def test_any_split_of_a_stream_is_echoed_intact(
    echo_server_address: Any, pieces: list[bytes]
) -> None:
    expected = b"".join(pieces)
    with socket.create_connection(echo_server_address, timeout=5) as peer:
        for piece in pieces:
            peer.sendall(piece)
        received = b""
        while len(received) < len(expected):
            chunk = peer.recv(65536)
            assert chunk, "the server closed early"
            received += chunk
    assert received == expected
