"""TCP servers accept connections themselves (``_own_transport``) on loops that watch
sockets, asyncio's selector loops and uvloop, unless turned off, and keep the loop's
server elsewhere."""

from __future__ import annotations

import asyncio
import errno
import logging
import socket
import ssl
from typing import Any

import pytest

from relays import Component
from relays_sockets import SocketConnection, TCPServer
from relays_sockets import _own_transport as own
from relays_sockets._own_transport import Listener, chosen, start_tls_takes_ours

pytestmark = pytest.mark.integration


@pytest.fixture(autouse=True, params=["asyncio", "uvloop"])
def own_loop(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """These tests run on asyncio's default loop and on uvloop, whichever loop the suite
    runs on (the relays test runner makes each test's loop with
    :func:`relays.new_event_loop`)."""
    if request.param == "uvloop":
        pytest.importorskip("uvloop")
    monkeypatch.setenv("RELAYS_UVLOOP", "1" if request.param == "uvloop" else "0")
    return str(request.param)


class Echo(Component):
    def read(self, sock: SocketConnection, data: bytes) -> bytes:
        return data


async def test_a_plain_server_accepts_by_itself(roundtrip: Any) -> None:
    assert chosen(asyncio.get_running_loop(), None)
    server = TCPServer(("127.0.0.1", 0))
    async with Echo() + server:
        address = await server.wait_ready()
        assert isinstance(server._server, Listener)
        assert server._server.is_serving()
        assert await roundtrip(address, b"hello") == b"hello"


async def test_a_burst_of_connections_is_taken_in_batches_and_all_served(roundtrip: Any) -> None:
    server = TCPServer(("127.0.0.1", 0), backlog=512)
    async with Echo() + server:
        address = await server.wait_ready()
        replies = await asyncio.gather(*(roundtrip(address, b"%d" % n) for n in range(300)))
        assert replies == [b"%d" % n for n in range(300)]


async def test_stopping_closes_the_listening_socket_and_frees_the_port() -> None:
    server = TCPServer(("127.0.0.1", 0))
    async with Echo() + server:
        address = await server.wait_ready()
        listener = server._server
        assert isinstance(listener, Listener)
        [listening] = listener.sockets
    assert listening.fileno() == -1  # closed
    assert not listener.is_serving()
    with pytest.raises(ConnectionRefusedError):
        await asyncio.open_connection(*address)
    again = TCPServer(address)  # the port is free again
    async with Echo() + again:
        assert await again.wait_ready() == address


async def test_tls_servers_accept_plain_then_take_the_handshake(
    server_context: ssl.SSLContext, client_context: ssl.SSLContext
) -> None:
    server = TCPServer(("127.0.0.1", 0), ssl_context=server_context)
    async with Echo() + server:
        address = await server.wait_ready()
        # Where the loop's start_tls takes our transport (asyncio's), we accept; else
        # (uvloop) the loop's server does, as the handshake needs what we read first.
        ours = start_tls_takes_ours(asyncio.get_running_loop())
        assert isinstance(server._server, Listener) == ours
        reader, writer = await asyncio.open_connection(
            *address, ssl=client_context, server_hostname="localhost"
        )
        writer.write(b"secret")
        assert await asyncio.wait_for(reader.readexactly(6), 5) == b"secret"
        writer.close()
        await writer.wait_closed()


class FakeListening:
    """A listening socket whose accept answers from a script (connections as "fds")."""

    family, type, proto = socket.AF_INET, socket.SOCK_STREAM, 0

    def __init__(self, outcomes: list[Any]) -> None:
        self.outcomes = outcomes

    def accept(self) -> Any:
        outcome = self.outcomes.pop(0)
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome

    def fileno(self) -> int:
        return 999


class FakeLoop:
    def __init__(self) -> None:
        self.made: list[Any] = []
        self.removed: list[int] = []
        self.added: list[int] = []
        self.later: list[Any] = []

    def make_transport(
        self, loop: Any, connection: Any, protocol: Any, peer: Any, local: Any, eager: bool
    ) -> None:
        assert loop is self
        if connection.name == "broken":
            raise RuntimeError("cannot make it")
        self.made.append((connection, peer))

    def remove_reader(self, fd: int) -> None:
        self.removed.append(fd)

    def add_reader(self, fd: int, *args: Any) -> None:
        self.added.append(fd)

    def call_later(self, delay: float, callback: Any, *args: Any) -> None:
        self.later.append((delay, callback, args))


class FakeConnection:
    def __init__(self, name: str) -> None:
        self.name = name
        self.closed = False

    def setblocking(self, flag: bool) -> None:
        assert flag is False

    def close(self) -> None:
        self.closed = True


@pytest.fixture
def fake_sockets(monkeypatch: pytest.MonkeyPatch) -> None:
    """Accept through the public ``accept()``, which the scripted sockets answer."""
    monkeypatch.setattr(own, "accept_connection", own._accept_public)


def bare_listener(loop: FakeLoop) -> Listener:
    listener = Listener.__new__(Listener)
    listener._loop = loop  # type: ignore[assignment]
    listener._factory = object
    listener._backlog = 10
    listener._sockets = []
    listener._locals = {}
    listener._kinds = {}
    listener._eager = False
    listener._make_transport = loop.make_transport  # type: ignore[assignment]
    listener._closed = False
    listener._nodelay_inherited = True
    listener._queued = True
    listener._unlooked = 0
    return listener


@pytest.mark.usefixtures("fake_sockets")
def test_aborted_connections_are_skipped_and_the_rest_taken() -> None:
    loop = FakeLoop()
    first, second = FakeConnection("a"), FakeConnection("b")
    one, two = ("1.2.3.4", 1), ("1.2.3.4", 2)
    outcomes = [(first, one), ConnectionAbortedError(), (second, two), BlockingIOError()]
    bare_listener(loop)._ready(FakeListening(outcomes))  # type: ignore[arg-type]
    assert loop.made == [(first, one), (second, two)]


@pytest.mark.usefixtures("fake_sockets")
def test_a_connection_that_cannot_be_set_up_is_closed_and_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    loop = FakeLoop()
    broken, fine = FakeConnection("broken"), FakeConnection("fine")
    listening = FakeListening([(broken, ("h", 1)), (fine, ("h", 2)), BlockingIOError()])
    with caplog.at_level(logging.ERROR, logger="relays.sockets"):
        bare_listener(loop)._ready(listening)  # type: ignore[arg-type]
    assert broken.closed
    assert [made for made, _ in loop.made] == [fine]
    assert "could not set up the connection" in caplog.text


@pytest.mark.usefixtures("fake_sockets")
def test_running_out_of_descriptors_rests_the_socket_then_resumes(
    caplog: pytest.LogCaptureFixture,
) -> None:
    loop = FakeLoop()
    listener = bare_listener(loop)
    listening = FakeListening([OSError(errno.EMFILE, "Too many open files")])
    with caplog.at_level(logging.ERROR, logger="relays.sockets"):
        listener._ready(listening)  # type: ignore[arg-type]
    assert loop.removed == [999]
    [(delay, resume, args)] = loop.later
    assert delay == own.ACCEPT_RETRY_DELAY
    assert "paused" in caplog.text
    resume(*args)
    assert loop.added == [999]
    # Once closed, a pending resume does nothing.
    listener._closed = True
    resume(*args)
    assert loop.added == [999]


@pytest.mark.usefixtures("fake_sockets")
def test_other_accept_errors_reach_the_loop() -> None:
    listening = FakeListening([OSError(errno.EBADF, "Bad file descriptor")])
    with pytest.raises(OSError, match="Bad file descriptor"):
        bare_listener(FakeLoop())._ready(listening)  # type: ignore[arg-type]


class Proactorish(asyncio.SelectorEventLoop):
    """A loop that cannot watch sockets, as the proactor loop cannot."""

    def add_reader(self, *args: Any) -> None:
        raise NotImplementedError


def test_loops_that_cannot_watch_sockets_keep_their_server() -> None:
    loop = Proactorish()
    try:
        assert not own.watches_sockets(loop)
        assert not chosen(loop, None)
        assert not chosen(loop, True)
    finally:
        loop.close()


def test_uvloop_takes_our_transport_for_plain_servers_only() -> None:
    uvloop = pytest.importorskip("uvloop")
    loop = uvloop.new_event_loop()
    try:
        assert own.watches_sockets(loop)
        assert chosen(loop, None)
        assert not start_tls_takes_ours(loop)
        assert not chosen(loop, None, tls=True)  # see the module's docstring
    finally:
        loop.close()


async def test_the_fast_transport_can_be_turned_off(
    monkeypatch: pytest.MonkeyPatch, roundtrip: Any
) -> None:
    loop = asyncio.get_running_loop()
    assert not chosen(loop, False)
    monkeypatch.setenv("RELAYS_FAST_TRANSPORT", "0")
    assert not chosen(loop, None)
    assert chosen(loop, True)  # the server's own choice wins over the environment
    server = TCPServer(("127.0.0.1", 0))
    async with Echo() + server:
        address = await server.wait_ready()
        assert not isinstance(server._server, Listener)
        assert await roundtrip(address, b"asyncio's") == b"asyncio's"
    monkeypatch.delenv("RELAYS_FAST_TRANSPORT")
    server = TCPServer(("127.0.0.1", 0), fast_transport=False)
    async with Echo() + server:
        await server.wait_ready()
        assert not isinstance(server._server, Listener)


async def test_without_the_private_accept_the_public_one_serves(
    monkeypatch: pytest.MonkeyPatch, roundtrip: Any
) -> None:
    monkeypatch.setattr(own, "accept_connection", own._accept_public)
    server = TCPServer(("127.0.0.1", 0))
    async with Echo() + server:
        address = await server.wait_ready()
        assert isinstance(server._server, Listener)
        assert await roundtrip(address, b"public") == b"public"


def test_the_fast_accept_is_used_where_the_private_names_exist() -> None:
    assert own.accept_connection is own._accept_c_level
    with socket.create_server(("127.0.0.1", 0)) as listening:
        peer = socket.create_connection(listening.getsockname())
        family, kind = listening.family, listening.type
        connection, address = own.accept_connection(listening, family, kind, listening.proto)
        try:
            assert address == peer.getsockname()
            assert connection.family == socket.AF_INET
        finally:
            connection.close()
            peer.close()


needs_defer_accept = pytest.mark.skipif(
    not hasattr(socket, "TCP_DEFER_ACCEPT"), reason="the system has no TCP_DEFER_ACCEPT"
)


@needs_defer_accept
async def test_deferred_accept_hands_connections_over_with_their_first_bytes(
    recorder: Any,
) -> None:
    server = TCPServer(("127.0.0.1", 0), defer_accept=5)
    log = recorder()
    async with Echo() + log + server:
        address = await server.wait_ready()
        listener = server._server
        assert isinstance(listener, Listener)
        assert listener._eager
        [listening] = listener.sockets
        assert listening.getsockopt(socket.IPPROTO_TCP, socket.TCP_DEFER_ACCEPT) > 0
        reader, writer = await asyncio.open_connection(*address)
        # Another client that speaks is accepted, answered and gone while the silent
        # one is still held by the system: its connect never came.
        other_reader, other = await asyncio.open_connection(*address)
        other.write(b"x")
        assert await asyncio.wait_for(other_reader.readexactly(1), 5) == b"x"
        other.close()
        await other.wait_closed()
        assert len(log.named("connect")) == 1
        writer.write(b"first words")
        assert await asyncio.wait_for(reader.readexactly(11), 5) == b"first words"
        assert [event.name for event in log.events][-2:] == ["connect", "read"]
        writer.close()
        await writer.wait_closed()


@needs_defer_accept
async def test_accepting_is_not_deferred_unless_asked(roundtrip: Any) -> None:
    for server in TCPServer(("127.0.0.1", 0)), TCPServer(("127.0.0.1", 0), defer_accept=0):
        async with Echo() + server:
            address = await server.wait_ready()
            listener = server._server
            assert isinstance(listener, Listener)
            assert not listener._eager
            [listening] = listener.sockets
            assert listening.getsockopt(socket.IPPROTO_TCP, socket.TCP_DEFER_ACCEPT) == 0
            assert await roundtrip(address, b"hi") == b"hi"


def test_defer_accept_is_checked() -> None:
    with pytest.raises(ValueError, match="defer_accept"):
        TCPServer(("127.0.0.1", 0), defer_accept=-1)


@pytest.mark.usefixtures("fake_sockets")
def test_an_eager_listener_takes_a_short_batch_per_readiness() -> None:
    # Each eager connection is answered before the next is taken, but its close
    # completes on a later loop turn: a backlog's worth in one go would keep them all
    # open (and counted against max_connections) until the batch ends.
    loop = FakeLoop()
    listener = bare_listener(loop)
    listener._backlog = 1000
    listener._eager = True
    waiting = [(FakeConnection(str(n)), ("h", n)) for n in range(100)]
    listening = FakeListening(list(waiting))
    listener._ready(listening)  # type: ignore[arg-type]
    assert len(loop.made) == own.EAGER_BATCH
    assert len(listening.outcomes) == 100 - own.EAGER_BATCH  # left for next turn
    listener._eager = False
    listening.outcomes.append(BlockingIOError())
    listener._ready(listening)  # type: ignore[arg-type]
    assert len(loop.made) == 100  # not eager: the whole backlog at once


@pytest.mark.usefixtures("fake_sockets")
def test_an_eager_listener_looks_for_a_second_connection_only_now_and_then() -> None:
    # While connections come one at a time, the accept that finds none (a raised
    # BlockingIOError) is made only every LOOK_AGAIN_EVERY readinesses; a look that
    # finds several starts batches again. A scripted accept beyond the script fails.
    loop = FakeLoop()
    listener = bare_listener(loop)
    listener._eager = True
    alone = FakeListening([(FakeConnection("0"), ("h", 0)), BlockingIOError()])
    listener._ready(alone)  # type: ignore[arg-type]
    assert len(loop.made) == 1
    assert not alone.outcomes  # it looked, and found nothing more
    for n in range(1, own.LOOK_AGAIN_EVERY):
        alone.outcomes = [(FakeConnection(str(n)), ("h", n))]
        listener._ready(alone)  # type: ignore[arg-type]  # one each, no second accept
    assert len(loop.made) == own.LOOK_AGAIN_EVERY
    queued = [(FakeConnection(f"q{n}"), ("h", n)) for n in range(3)]
    alone.outcomes = [*queued, BlockingIOError()]
    listener._ready(alone)  # type: ignore[arg-type]  # the look: three were waiting
    assert loop.made[-3:] == queued
    burst = [(FakeConnection(f"b{n}"), ("h", n)) for n in range(own.EAGER_BATCH + 1)]
    alone.outcomes = list(burst)
    listener._ready(alone)  # type: ignore[arg-type]  # batches again, at once
    assert loop.made[-own.EAGER_BATCH :] == burst[: own.EAGER_BATCH]
    assert alone.outcomes == burst[own.EAGER_BATCH :]  # left for the next turn
    alone.outcomes.append(BlockingIOError())
    listener._ready(alone)  # type: ignore[arg-type]  # after a full batch, it looks
    assert loop.made[-1] == burst[-1]
    assert not alone.outcomes
    alone.outcomes = [(FakeConnection("last"), ("h", 0))]
    listener._ready(alone)  # type: ignore[arg-type]  # one found: one at a time again
    assert loop.made[-1][0].name == "last"


@needs_defer_accept
async def test_connections_coming_one_at_a_time_are_all_served(roundtrip: Any) -> None:
    server = TCPServer(("127.0.0.1", 0), defer_accept=1)
    async with Echo() + server:
        address = await server.wait_ready()
        listener = server._server
        assert isinstance(listener, Listener)
        assert listener._eager
        # One after another (single takes), then a burst while it takes one at a time.
        for n in range(own.LOOK_AGAIN_EVERY + 2):
            assert await roundtrip(address, b"%d" % n) == b"%d" % n
        replies = await asyncio.gather(*(roundtrip(address, b"%d" % n) for n in range(50)))
        assert replies == [b"%d" % n for n in range(50)]


def test_connections_are_made_as_their_listening_socket_is() -> None:
    from relays_sockets._own_transport import _kind_of

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listening:
        kinds = _kind_of(listening)
        assert kinds == (socket.AF_INET, socket.SOCK_STREAM, listening.proto)
        assert all(type(value) is int for value in kinds)  # no enums built per accept
