"""The NATS engine counts as ready only once the server has processed its subscriptions.

A scripted NATS server on loopback records, for each line it sends, how many SUB
commands it had processed by then. nats-py's ``flush()`` writes its PING ahead of the
SUBs it still buffers, so a PONG can leave the server before any SUB is processed: the
engine must not take that PONG for readiness. Deterministic: the order is the wire's.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

pytest.importorskip("nats", reason="nats-py is in the dev group: dev.py")

from relays_bridge._engine import EngineSettings, Subscriptions
from relays_bridge._nats import NatsEngine

INFO = (
    b'INFO {"server_id":"scripted","version":"2.9.10","go":"go1","host":"127.0.0.1",'
    b'"port":4222,"max_payload":1048576,"proto":1,"headers":true}\r\n'
)


class ScriptedServer:
    """Just enough NATS: answers PING, routes PUB to SUB, records what it processed."""

    def __init__(self) -> None:
        self.subscribed: dict[str, str] = {}  # subject -> sid
        #: For each line sent after the handshake: (line, SUBs processed when it was sent).
        self.sent: list[tuple[bytes, int]] = []
        self._handshaken = False

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(INFO)
        try:
            while line := await reader.readline():
                verb, *words = line.split()
                if verb == b"PING":
                    self._send(writer, b"PONG\r\n")
                    self._handshaken = True
                elif verb == b"SUB":
                    self.subscribed[words[0].decode()] = words[-1].decode()
                elif verb == b"PUB":
                    payload = await reader.readexactly(int(words[-1]) + 2)
                    sid = self.subscribed.get(words[0].decode())
                    if sid is not None:
                        head = f"MSG {words[0].decode()} {sid} {len(payload) - 2}\r\n"
                        self._send(writer, head.encode() + payload)
                await writer.drain()
        except ConnectionError:
            pass
        finally:
            writer.close()

    def _send(self, writer: asyncio.StreamWriter, data: bytes) -> None:
        if self._handshaken:
            self.sent.append((data, len(self.subscribed)))
        writer.write(data)


class Ready:
    """A receiver that notes what the server had processed when it was told ready."""

    def __init__(self, server: ScriptedServer) -> None:
        self.server = server
        self.ready = asyncio.Event()
        self.subscriptions_processed = -1

    def on_ready(self) -> None:
        # The line that made the engine ready is the last one the server sent.
        self.subscriptions_processed = self.server.sent[-1][1]
        self.ready.set()

    def on_broadcast(self, channel: str, frame: bytes) -> None: ...

    def on_reply(self, frame: bytes) -> None: ...

    async def on_delivery(self, delivery: Any) -> None: ...


async def test_ready_comes_after_the_server_processed_every_subscription() -> None:
    server = ScriptedServer()
    listener = await asyncio.start_server(server.serve, "127.0.0.1", 0)
    port = listener.sockets[0].getsockname()[1]
    engine = NatsEngine(f"nats://127.0.0.1:{port}", EngineSettings("t", 30.0, 5, 16))
    receiver = Ready(server)
    try:
        await engine.connect("node")
        receiving = asyncio.ensure_future(
            engine.receive(Subscriptions(("orders", "prices"), (), (), "g"), receiver)
        )
        await asyncio.wait_for(receiver.ready.wait(), 10)
        receiving.cancel()
        await asyncio.gather(receiving, return_exceptions=True)
    finally:
        await engine.close()
        listener.close()
        await listener.wait_closed()
    # the reply inbox and the two broadcast subjects, at least (the probe's own may count)
    assert receiver.subscriptions_processed >= 3
