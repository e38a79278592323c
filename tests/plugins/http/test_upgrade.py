"""Switching protocols: the core's 101 step, and the handover of the connection."""

from __future__ import annotations

import asyncio
import socket
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from relays import Component
from relays.transports import Connection
from relays_http import (
    HTTP,
    Limits,
    Request,
    Response,
    Server,
    SwitchProtocols,
    UpgradeHandler,
)
from relays_http import _protocol as protocol
from relays_http.testing import Client, memory_server, serve_in_thread

UPGRADE_REQUEST = (
    b"GET /echo HTTP/1.1\r\nHost: x\r\nConnection: keep-alive, Upgrade\r\n"
    b"Upgrade: h2c, Echo/1\r\n\r\n"
)


def received(data: bytes) -> protocol.Connection:
    """A core that received *data* and was asked for events up to the request's end."""
    core = protocol.Connection()
    core.receive_data(data)
    assert type(core.next_event()) is protocol.Request
    assert type(core.next_event()) is protocol.EndOfMessage
    return core


# -- the sans-IO core -----------------------------------------------------------------


def test_switch_writes_the_101_and_leaves_http_for_good() -> None:
    core = received(UPGRADE_REQUEST + b"first bytes")
    head = core.switch_protocols(b"echo/1", [("X-Echo", "yes")])
    assert head == (
        b"HTTP/1.1 101 Switching Protocols\r\nconnection: Upgrade\r\nupgrade: echo/1\r\n"
        b"X-Echo: yes\r\n\r\n"
    )
    assert core.our_state is core.their_state is protocol.State.SWITCHED_PROTOCOL
    assert core.trailing_data == (b"first bytes", False)
    assert core.next_event() is protocol.PAUSED
    with pytest.raises(protocol.LocalProtocolError):
        core.send(protocol.Response(200))


def test_the_request_event_says_what_was_offered() -> None:
    core = protocol.Connection()
    core.receive_data(UPGRADE_REQUEST)
    event = core.next_event()
    assert isinstance(event, protocol.Request)
    assert event.upgrade == b"h2c, Echo/1"
    assert event.upgrade_field == b"h2c, Echo/1"
    core = protocol.Connection()
    core.receive_data(b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: echo\r\n\r\n")
    event = core.next_event()
    assert isinstance(event, protocol.Request)
    assert event.upgrade is None  # Connection does not list upgrade
    assert event.upgrade_field == b"echo"  # but the field was sent


@pytest.mark.parametrize(
    ("request_bytes", "reason"),
    [
        (b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", "did not ask"),
        (b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: echo\r\n\r\n", "did not ask"),
        (b"GET / HTTP/1.1\r\nHost: x\r\nConnection: upgrade\r\n\r\n", "did not ask"),
        (b"GET / HTTP/1.0\r\nConnection: upgrade\r\nUpgrade: echo\r\n\r\n", "HTTP/1.0"),
        (b"GET / HTTP/1.1\r\nHost: x\r\nConnection: upgrade\r\nUpgrade: h2c\r\n\r\n", "offered"),
        (
            b"GET / HTTP/1.1\r\nHost: x\r\nConnection: upgrade, close\r\nUpgrade: echo\r\n\r\n",
            "asked to close",
        ),
    ],
)
def test_a_switch_the_request_did_not_ask_for_is_refused(
    request_bytes: bytes, reason: str
) -> None:
    core = received(request_bytes)
    with pytest.raises(protocol.LocalProtocolError, match=reason):
        core.switch_protocols(b"echo")
    # Nothing changed: a 500 can still be sent.
    assert core.our_state is protocol.State.SEND_RESPONSE
    assert core.send_whole(protocol.Response(500)).startswith(b"HTTP/1.1 500 ")


def test_a_switch_is_refused_before_the_body_is_received_and_after_a_response() -> None:
    core = protocol.Connection()
    core.receive_data(
        b"POST / HTTP/1.1\r\nHost: x\r\nConnection: upgrade\r\nUpgrade: echo\r\n"
        b"Content-Length: 4\r\n\r\nab"
    )
    assert type(core.next_event()) is protocol.Request
    with pytest.raises(protocol.LocalProtocolError, match="whole request"):
        core.switch_protocols(b"echo")
    core = received(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: upgrade\r\nUpgrade: echo\r\n\r\n")
    core.send(protocol.Response(200, [("Content-Length", "0")]))
    with pytest.raises(protocol.LocalProtocolError, match="a response started"):
        core.switch_protocols(b"echo")


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("Connection", "close"),
        ("Upgrade", "other"),
        ("Content-Length", "0"),
        ("Transfer-Encoding", "chunked"),
        ("X-Bad", "a\r\nInjected: yes"),
        ("Bad Name", "x"),
    ],
)
def test_the_101_refuses_fields_it_writes_itself_framing_and_injection(
    name: str, value: str
) -> None:
    core = received(UPGRADE_REQUEST)
    with pytest.raises(protocol.LocalProtocolError):
        core.switch_protocols(b"h2c", [(name, value)])
    assert core.our_state is protocol.State.SEND_RESPONSE


@pytest.mark.parametrize("name", [b"", b"bad name", b"echo/", b"/1", b"a/b/c"])
def test_a_protocol_name_must_be_a_token_with_an_optional_version(name: bytes) -> None:
    core = received(UPGRADE_REQUEST)
    with pytest.raises(protocol.LocalProtocolError, match="invalid protocol"):
        core.switch_protocols(name)


def test_a_101_any_other_way_is_refused() -> None:
    core = received(UPGRADE_REQUEST)
    with pytest.raises(protocol.LocalProtocolError, match="switch_protocols"):
        core.send(protocol.InformationalResponse(101, [("Upgrade", "h2c")]))


@given(cuts=st.lists(st.integers(min_value=0), max_size=6), tail=st.binary(max_size=40))
def test_any_split_of_an_upgrade_request_leaves_the_same_trailing_bytes(
    cuts: list[int], tail: bytes
) -> None:
    data = UPGRADE_REQUEST + tail
    points = sorted({cut % (len(data) + 1) for cut in cuts})
    core = protocol.Connection()
    events: list[Any] = []
    for start, end in zip([0, *points], [*points, len(data)], strict=True):
        if start == end:
            continue  # b"" would mean EOF
        core.receive_data(data[start:end])
        while True:
            event = core.next_event()
            if event is protocol.NEED_DATA or event is protocol.PAUSED:
                break
            events.append(type(event))
    assert events == [protocol.Request, protocol.EndOfMessage]
    core.switch_protocols(b"h2c")
    assert core.trailing_data == (tail, False)


# -- the handover, in memory -------------------------------------------------------------


class Echo:
    """An echo protocol that records what happened to it."""

    def __init__(self) -> None:
        self.connection: Connection | None = None
        self.made: list[bytes] = []
        self.eof = 0
        self.lost: list[BaseException | None] = []
        self.gone = asyncio.Event()

    def connection_made(self, connection: Connection, buffered: bytes) -> None:
        self.connection = connection
        self.made.append(buffered)
        connection.write(b"made:" + buffered)

    def data_received(self, data: bytes) -> None:
        assert self.connection is not None
        self.connection.write(data)

    def eof_received(self) -> None:
        self.eof += 1
        assert self.connection is not None
        self.connection.write(b"bye")
        self.connection.close()

    def connection_lost(self, error: BaseException | None) -> None:
        self.lost.append(error)
        self.gone.set()


class Upgrader(Component):
    """Switches ``/echo`` to :class:`Echo`; ``/response`` does it through a Response."""

    channel = "web"

    def __init__(self) -> None:
        super().__init__()
        self.protocols: list[Echo] = []

    def request(self, request: Request, response: Response) -> Any:
        echo = Echo()
        self.protocols.append(echo)
        if request.path == "/response":
            return Response(SwitchProtocols("echo", echo))
        if request.path == "/plain":
            return "plain"
        return SwitchProtocols("echo", echo, headers=[("X-Echo", "1")])


def test_the_echo_protocol_is_an_upgrade_handler() -> None:
    assert isinstance(Echo(), UpgradeHandler)


def http_of(server: Any) -> HTTP:
    return next(child for child in server.components if isinstance(child, HTTP))


async def test_an_echo_protocol_after_the_switch_gets_the_buffered_bytes() -> None:
    app = Upgrader()
    server, transport = memory_server(app)
    async with server:
        client = Client(transport)
        response = await client.upgrade("/echo", "echo", data=b"early")
        assert response.status == 101
        assert (response.headers["Upgrade"], response.headers["Connection"]) == ("echo", "Upgrade")
        assert response.headers["X-Echo"] == "1"
        assert await client.receive() == b"made:early"
        client.send(b"GET / HTTP/1.1\r\n\r\n")  # no longer HTTP: echoed as it is
        assert await client.receive() == b"GET / HTTP/1.1\r\n\r\n"
        (echo,) = app.protocols
        assert echo.made == [b"early"]
        assert http_of(server).connections == 1
        client.close()
        await echo.gone.wait()
        assert echo.lost == [None]
        assert http_of(server).connections == 0


async def test_a_response_whose_body_is_the_switch_switches_too() -> None:
    app = Upgrader()
    server, transport = memory_server(app)
    async with server:
        client = Client(transport)
        assert (await client.upgrade("/response", "ECHO")).status == 101
        assert await client.receive() == b"made:"


async def test_a_half_close_goes_to_the_handler_which_decides() -> None:
    app = Upgrader()
    server, transport = memory_server(app)
    async with server:
        client = Client(transport)
        assert (await client.upgrade("/echo", "echo")).status == 101
        assert await client.receive() == b"made:"
        transport.fire(protocol_eof(client))
        await app.protocols[0].gone.wait()
        assert app.protocols[0].eof == 1
        assert await client.receive() == b"bye"


def protocol_eof(client: Client) -> Any:
    from relays.transports import Eof

    return Eof(client.connection.connection)


async def test_http_timeouts_no_longer_apply_after_the_switch() -> None:
    app = Upgrader()
    server, transport = memory_server(app, limits=Limits(keep_alive_timeout=1, header_timeout=1))
    async with server:
        http = http_of(server)
        idle = Client(transport)
        assert (await idle.get("/plain")).status == 200
        client = Client(transport)
        assert (await client.upgrade("/echo", "echo")).status == 101
        assert await client.receive() == b"made:"
        deadlines = http._deadlines
        now = deadlines.now()
        deadlines.now = lambda: now + 3600  # a fake clock: every HTTP deadline is past
        deadlines.sweep()
        assert idle.closed  # the keep-alive connection expired...
        assert not client.closed  # ...the switched one is not HTTP's to expire
        client.send(b"still here")
        assert await client.receive() == b"still here"


async def test_switched_connections_count_toward_max_connections() -> None:
    app = Upgrader()
    server, transport = memory_server(app, limits=Limits(max_connections=1))
    async with server:
        client = Client(transport)
        assert (await client.upgrade("/echo", "echo")).status == 101
        refused = Client(transport)
        assert (await refused.response()).status == 503


async def test_stopping_the_server_closes_switched_connections() -> None:
    app = Upgrader()
    server, transport = memory_server(app)
    async with server:
        client = Client(transport)
        assert (await client.upgrade("/echo", "echo")).status == 101
    (echo,) = app.protocols
    assert echo.lost == [None]
    assert client.closed


@pytest.mark.parametrize(
    "request_bytes",
    [
        b"GET /echo HTTP/1.1\r\nHost: x\r\n\r\n",
        b"GET /echo HTTP/1.0\r\nConnection: upgrade\r\nUpgrade: echo\r\n\r\n",
        b"GET /echo HTTP/1.1\r\nHost: x\r\nConnection: upgrade\r\nUpgrade: h2c\r\n\r\n",
    ],
)
async def test_a_switch_the_request_did_not_ask_for_is_a_500(
    request_bytes: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    app = Upgrader()
    server, transport = memory_server(app)
    async with server:
        client = Client(transport)
        client.send(request_bytes)
        response = await client.response()
        assert response.status == 500
    assert "cannot switch GET /echo" in caplog.text
    assert app.protocols[0].made == []


class Failing(Echo):
    def data_received(self, data: bytes) -> None:
        raise RuntimeError("broken protocol")


async def test_a_handler_that_raises_has_its_connection_closed(
    caplog: pytest.LogCaptureFixture,
) -> None:
    failing = Failing()

    class App(Component):
        channel = "web"

        def request(self, request: Request, response: Response) -> Any:
            return SwitchProtocols("echo", failing)

    server, transport = memory_server(App())
    async with server:
        client = Client(transport)
        assert (await client.upgrade("/", "echo")).status == 101
        client.send(b"boom")
        await failing.gone.wait()
    assert "failed in data_received" in caplog.text
    assert failing.lost == [None]


# -- the handover, on a real socket ------------------------------------------------------


@pytest.mark.integration
def test_an_echo_protocol_over_a_real_socket() -> None:
    app = Upgrader()
    with (
        serve_in_thread(Server("tcp://127.0.0.1:0") + app) as server,
        socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock,
    ):
        sock.sendall(UPGRADE_REQUEST.replace(b"Echo/1", b"echo") + b"pipelined")
        data = b""
        while not data.endswith(b"made:pipelined"):
            chunk = sock.recv(4096)
            assert chunk, data
            data += chunk
        head, _, rest = data.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 101 Switching Protocols\r\n")
        assert rest == b"made:pipelined"
        sock.sendall(b"ping")
        assert sock.recv(4096) == b"ping"
        sock.shutdown(socket.SHUT_WR)
        assert sock.recv(4096) == b"bye"
        assert sock.recv(4096) == b""
