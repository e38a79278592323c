"""UDP endpoints on loopback: datagrams in and out, echo, a client with a default peer."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from relays import Component
from relays.testing import Manager
from relays.transports import Write
from relays_sockets import UDPClient, UDPServer

pytestmark = pytest.mark.integration


class Echo(Component):
    def read(self, address: tuple[str, int], data: bytes) -> bytes:
        return data.upper()


class _Collector(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.received: asyncio.Queue[tuple[bytes, Any]] = asyncio.Queue()

    def datagram_received(self, data: bytes, addr: Any) -> None:
        self.received.put_nowait((data, addr))


async def test_udp_echo_shortcut_replies_to_the_sender(recorder: Any) -> None:
    server = UDPServer("udp://127.0.0.1:0")
    log = recorder()
    async with Echo() + log + server:
        await log.until("ready")
        assert log.named("ready")[0].args == (server, server.address)
        loop = asyncio.get_running_loop()
        transport, collector = await loop.create_datagram_endpoint(
            _Collector, remote_addr=server.address
        )
        try:
            transport.sendto(b"datagram")
            data, source = await asyncio.wait_for(collector.received.get(), 5)
            assert data == b"DATAGRAM"
            assert source[:2] == server.address
            read = log.named("read")[-1]
            assert read.args == (transport.get_extra_info("sockname")[:2], b"datagram")
        finally:
            transport.close()
    assert log.named("closed")


async def test_udp_client_writes_to_its_default_peer_and_reads_replies(recorder: Any) -> None:
    server = UDPServer(("127.0.0.1", 0))
    server_log = recorder()
    async with Echo() + server_log + server:
        await server_log.until("ready")
        client = UDPClient(server.address)
        log = recorder()
        async with Manager() + log + client:
            await log.until("ready")
            client.fire(Write(b"hello"))
            client.fire(Write(server.address, b"again"))
            reads = await log.until("read", 2)
            assert sorted(event.args[1] for event in reads) == [b"AGAIN", b"HELLO"]
            assert all(event.args[0] == server.address for event in reads)


async def test_udp_client_without_a_peer_reports_an_error(recorder: Any) -> None:
    client = UDPClient()
    log = recorder()
    async with Manager() + log + client:
        await log.until("ready")
        client.fire(Write(b"where to?"))
        errors = await log.until("error")
        assert isinstance(errors[0].args[1], ValueError)


def test_udp_refuses_other_schemes() -> None:
    with pytest.raises(ValueError, match="UDP address"):
        UDPServer("tcp://127.0.0.1:53")
    assert UDPServer(("127.0.0.1", 53)).bind == ("127.0.0.1", 53)
    assert UDPServer("127.0.0.1:53").bind == ("127.0.0.1", 53)
