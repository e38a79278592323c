"""The plugin: found through its entry point, answering the transport hook."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

import relays
from relays import Component, Provided
from relays._plugins import BLOCK_PLUGINS_ENV, reset_plugin_manager
from relays_sockets import (
    TCPClient,
    TCPServer,
    UDPClient,
    UDPServer,
    UNIXClient,
    UNIXServer,
    plugin,
)


@pytest.fixture
def fresh_plugins() -> Iterator[None]:
    reset_plugin_manager()
    yield
    reset_plugin_manager()


def test_provides_every_scheme() -> None:
    provided = plugin.relays_provides()
    assert all(isinstance(row, Provided) for row in provided)
    assert {(row.kind, row.name) for row in provided} == {
        ("transport", scheme) for scheme in ("tcp", "tcp4", "tcp6", "tls", "udp", "unix", "fd")
    }
    assert all(row.description for row in provided)


@pytest.mark.usefixtures("fresh_plugins")
def test_the_hook_answers_through_the_entry_point() -> None:
    for scheme in ("tcp", "tcp4", "tcp6"):
        transport = relays.find_transport(scheme)
        assert (transport.server, transport.client) == (TCPServer, TCPClient)
    assert relays.find_transport("udp").server is UDPServer
    assert relays.find_transport("udp").client is UDPClient
    assert relays.find_transport("unix").server is UNIXServer
    assert relays.find_transport("unix").client is UNIXClient
    tls = relays.find_transport("tls")
    assert tls.client is not None
    assert tls.client(("example.org", 443)).secure
    assert plugin.relays_transport(scheme="http") is None


@pytest.mark.usefixtures("fresh_plugins")
def test_without_the_plugin_the_error_says_what_to_install(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(BLOCK_PLUGINS_ENV, "sockets")
    reset_plugin_manager()
    with pytest.raises(relays.PluginNotFound, match="relays-sockets is installed but not loaded"):
        relays.find_transport("tcp")


@pytest.mark.integration
@pytest.mark.usefixtures("fresh_plugins")
async def test_a_server_made_through_the_hook_serves() -> None:
    class Echo(Component):
        def read(self, sock: object, data: bytes) -> bytes:
            return data

    transport = relays.find_transport("tcp")
    assert transport.server is not None
    server = transport.server("tcp://127.0.0.1:0", channel="web")
    assert server.channel == "web"
    app = Echo(channel="web") + server
    async with app:
        address = await server.wait_ready()  # type: ignore[attr-defined]
        reader, writer = await asyncio.open_connection(*address)
        writer.write(b"hooked")
        assert await asyncio.wait_for(reader.readexactly(6), 5) == b"hooked"
        writer.close()
        await writer.wait_closed()
