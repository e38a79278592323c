"""parse_address and the in-memory transport of relays.testing."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from relays import Component
from relays.testing import Manager, MemoryTransport, drain
from relays.testing.strategies import byte_at_a_time, splits, with_trailing
from relays.transports import Connection, parse_address


@pytest.mark.parametrize(
    ("address", "expected"),
    [
        ("tcp://127.0.0.1:8000", ("tcp", ("127.0.0.1", 8000))),
        ("tls://[::1]:443", ("tls", ("::1", 443))),
        ("udp://0.0.0.0:53", ("udp", ("0.0.0.0", 53))),
        ("TCP://localhost:0/", ("tcp", ("localhost", 0))),
        ("unix:///run/app.sock", ("unix", "/run/app.sock")),
        ("/tmp/app.sock", ("unix", "/tmp/app.sock")),
        ("./app.sock", ("unix", "./app.sock")),
        ("example.org:80", ("tcp", ("example.org", 80))),
        (("127.0.0.1", 8080), ("tcp", ("127.0.0.1", 8080))),
        (8000, ("tcp", ("0.0.0.0", 8000))),
        ("tcp://:9000", ("tcp", ("0.0.0.0", 9000))),
    ],
)
def test_parse_address(address: Any, expected: tuple[str, Any]) -> None:
    assert parse_address(address) == expected


@pytest.mark.parametrize(
    ("address", "message"),
    [
        ("tcp://host", "needs a port"),
        ("tcp://host:http", "port must be a number"),
        ("tcp://host:70000", "port must be a number"),
        ("tls://[::1]443", "IPv6"),
        ("unix://", "needs a path"),
        ("", "address must be"),
        (None, "address must be"),
        (("host",), "must be \\(host, port\\)"),
        (True, "address must be"),
    ],
)
def test_bad_addresses_name_the_problem(address: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_address(address)


@given(st.text(max_size=40))
def test_parse_address_never_raises_anything_but_value_error(text: str) -> None:
    try:
        scheme, _ = parse_address(text)
    except ValueError:
        return
    assert scheme == scheme.lower()


@given(st.binary(max_size=200), st.data())
def test_splits_join_back(data: bytes, draw: st.DataObject) -> None:
    pieces = draw.draw(splits(data))
    assert b"".join(pieces) == data
    assert all(pieces)
    assert b"".join(byte_at_a_time(data)) == data


@given(with_trailing(b"GET / HTTP/1.1\r\n\r\n"))
def test_with_trailing(pair: tuple[bytes, bytes]) -> None:
    whole, tail = pair
    assert whole.endswith(tail)
    assert whole.startswith(b"GET")


class Echo(Component):
    channel = "memory"

    def __init__(self) -> None:
        super().__init__()
        self.connected: list[Connection] = []
        self.gone: list[Connection] = []

    def connect(self, sock: Connection, host: str, port: int) -> None:
        self.connected.append(sock)

    def read(self, sock: Connection, data: bytes) -> bytes:
        return data.upper()

    def disconnect(self, sock: Connection) -> None:
        self.gone.append(sock)


async def test_memory_transport_round_trip(manager: Manager) -> None:
    transport = MemoryTransport().register(manager)
    echo = Echo().register(manager)
    client = transport.connect()
    client.send(b"hello")
    assert await client.wait() == b"HELLO"
    assert echo.connected == [client.connection]
    assert client.take() == b"HELLO"
    assert client.received == b""
    client.close()
    await drain(manager)
    assert echo.gone == [client.connection]
    assert client.closed


async def test_memory_transport_write_after_close_is_an_error_event(manager: Manager) -> None:
    transport = MemoryTransport().register(manager)
    errors: list[Any] = []

    class Watch(Component):
        channel = "memory"

        def error(self, sock: Connection, error: Exception) -> None:
            errors.append(error)

    manager += Watch()
    client = transport.connect()
    client.close()
    client.connection.write(b"late")
    await drain(manager)
    assert len(errors) == 1
    assert "closed" in str(errors[0])


async def test_recorder_sees_events_fired_before_it_waits(manager: Manager) -> None:
    from relays import Event
    from relays.testing import Recorder

    recorder = Recorder().register(manager)
    await manager.fire(Event.create("early"))
    (event,) = await recorder.until("early", timeout=1)
    assert event.name == "early"
    manager.fire(Event.create("late"))
    manager.fire(Event.create("late"))
    assert len(await recorder.until("late", count=2, timeout=1)) == 2
    with pytest.raises(TimeoutError, match="saw 2 'late' events, not 3"):
        await recorder.until("late", count=3, timeout=0.05)
