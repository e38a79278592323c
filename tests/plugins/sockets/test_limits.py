"""Limits: idle timeout, connection limit, read size, and their validation."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
from typing import Any

import attrs
import pytest

from relays import Component
from relays_sockets import SocketConnection, SocketLimits, TCPServer

pytestmark = pytest.mark.integration


class Echo(Component):
    def read(self, sock: SocketConnection, data: bytes) -> bytes:
        return data


async def test_idle_connections_are_closed_and_busy_ones_kept(recorder: Any) -> None:
    server = TCPServer(("127.0.0.1", 0), idle_timeout=0.2)
    log = recorder()
    async with Echo() + log + server:
        address = await server.wait_ready()
        idle_reader, idle = await asyncio.open_connection(*address)
        busy_reader, busy = await asyncio.open_connection(*address)
        # The busy one ping-pongs without pause until the idle one is closed: it is
        # active in every sweep, however slowly the machine runs the loop.
        closed = asyncio.ensure_future(idle_reader.read())
        while not closed.done():
            busy.write(b".")
            assert await asyncio.wait_for(busy_reader.readexactly(1), 5) == b"."
        assert closed.result() == b""
        assert len(log.named("disconnect")) == 1
        assert len(server.connections) == 1
        for writer in (idle, busy):
            writer.close()
            await writer.wait_closed()


async def test_connections_beyond_the_limit_are_refused_and_counted(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="relays.sockets")
    server = TCPServer(("127.0.0.1", 0), max_connections=2)
    async with Echo() + server:
        address = await server.wait_ready()
        kept = [await asyncio.open_connection(*address) for _ in range(2)]
        for reader, writer in kept:  # both are accepted before the next one comes
            writer.write(b"a")
            assert await asyncio.wait_for(reader.readexactly(1), 5) == b"a"
        extra_reader, extra = await asyncio.open_connection(*address)
        try:
            refused = await asyncio.wait_for(extra_reader.read(), 5)
        except ConnectionResetError:
            refused = b""
        assert refused == b"", "closed at once, with nothing sent"
        assert server.refused == 1
        assert "refused 1 connection(s)" in caplog.text
        assert "max_connections=2" in caplog.text
        for reader, writer in kept:
            writer.write(b"b")
            assert await asyncio.wait_for(reader.readexactly(1), 5) == b"b"
        for _, writer in [*kept, (extra_reader, extra)]:
            writer.close()
            with contextlib.suppress(ConnectionResetError):
                await writer.wait_closed()


async def test_read_size_bounds_each_read(recorder: Any) -> None:
    server = TCPServer(("127.0.0.1", 0), read_size=16)
    log = recorder()
    async with Echo() + log + server:
        address = await server.wait_ready()
        reader, writer = await asyncio.open_connection(*address)
        writer.write(b"z" * 100)
        assert await asyncio.wait_for(reader.readexactly(100), 5) == b"z" * 100
        reads = log.named("read")
        assert all(len(event.args[1]) <= 16 for event in reads)
        assert len(reads) >= 7
        writer.close()
        await writer.wait_closed()


def test_limits_are_validated_and_overridable() -> None:
    with pytest.raises(ValueError, match="read_size"):
        SocketLimits(read_size=0)
    with pytest.raises(ValueError, match="idle_timeout"):
        SocketLimits(idle_timeout=-1)
    with pytest.raises(ValueError, match="write_low_water"):
        SocketLimits(write_high_water=10, write_low_water=20)
    assert SocketLimits(max_connections=None, idle_timeout=None).max_connections is None
    server = TCPServer(("127.0.0.1", 0), limits=SocketLimits(backlog=5), idle_timeout=3)
    assert server.limits == attrs.evolve(SocketLimits(), backlog=5, idle_timeout=3)
    with pytest.raises(TypeError):
        TCPServer(("127.0.0.1", 0), no_such_limit=1)


async def transport_write_limits(
    server: TCPServer, client_context: ssl.SSLContext | None, recorder: Any
) -> tuple[int, int]:
    """The (low, high) write limits of the transport under the server's connection."""
    log = recorder()
    async with Echo() + log + server:
        host, port = await server.wait_ready()
        reader, writer = await asyncio.open_connection(host, port, ssl=client_context)
        writer.write(b"x")
        assert await asyncio.wait_for(reader.readexactly(1), 5) == b"x"
        sock = (await log.until("connect"))[0].args[0]
        limits: tuple[int, int] = sock._transport.get_write_buffer_limits()
        writer.close()
        await writer.wait_closed()
        return limits


@pytest.mark.parametrize(
    ("high", "low", "tls"),
    [
        (256 * 1024, 64 * 1024, False),  # our defaults
        (64 * 1024, 16 * 1024, False),  # asyncio's own: the set is skipped
        (64 * 1024, 0, False),  # asyncio's high water, not its low
        (64 * 1024, 16 * 1024, True),  # asyncio's own, but TLS transports start higher
    ],
    ids=["ours", "asyncio's", "same-high-only", "asyncio's-on-tls"],
)
async def test_the_write_limits_reach_the_transport(
    high: int,
    low: int,
    tls: bool,
    server_context: ssl.SSLContext,
    client_context: ssl.SSLContext,
    recorder: Any,
) -> None:
    server = TCPServer(
        ("127.0.0.1", 0),
        ssl_context=server_context if tls else None,
        write_high_water=high,
        write_low_water=low,
    )
    limits = await transport_write_limits(server, client_context if tls else None, recorder)
    assert limits == (low, high)
