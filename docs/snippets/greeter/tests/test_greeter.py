"""Tests of relays-greeter, with the plugin registered by hand."""

from __future__ import annotations

import relays
from relays import Component
from relays.testing import MemoryTransport
from relays_greeter import plugin


def test_the_plugin_answers_lookups() -> None:
    relays.register_plugin(plugin, name="greeter")
    assert relays.find_dispatcher("greeter") is not None

    greeter = relays.find_dispatcher("greeter")(greeting="Hi")
    assert greeter.hello("Ada") == "Hi, Ada!"
    assert relays.find_transport("loop").server is MemoryTransport


class ShoutServer(Component):
    """The smallest tree that serves: the transport and the protocol on one channel."""

    def __init__(self) -> None:
        super().__init__()
        self.transport = MemoryTransport().register(self)
        self.protocol = plugin.relays_protocol(name="shout")(channel=self.transport.channel)
        self.protocol.register(self)


async def test_the_protocol_shouts() -> None:
    async with ShoutServer() as server:
        client = server.transport.connect()
        await client.send(b"hello")
        assert client.take() == b"HELLO"
