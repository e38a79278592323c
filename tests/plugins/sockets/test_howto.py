"""The code of the sockets how-to (docs/snippets/sockets_howto.py), run on real sockets."""

from __future__ import annotations

import asyncio
import importlib.util
import ssl
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import trustme

from relays import Component
from relays.transports import Connect
from relays_sockets import TCPClient, TCPServer

pytestmark = pytest.mark.integration

SNIPPETS = Path(__file__).resolve().parents[3] / "docs" / "snippets"


def load(name: str) -> ModuleType:
    """docs/snippets/<name>.py, imported (it only defines things)."""
    spec = importlib.util.spec_from_file_location(name, SNIPPETS / f"{name}.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def howto() -> ModuleType:
    return load("sockets_howto")


async def talk(server: TCPServer, message: bytes, *, half_close: bool = False) -> bytes:
    address = await server.wait_ready()
    reader, writer = await asyncio.open_connection(*address)
    try:
        writer.write(message)
        if half_close:
            writer.write_eof()
        return await asyncio.wait_for(reader.read(), 5)
    finally:
        writer.close()
        await writer.wait_closed()


async def test_the_echo_server_echoes(howto: ModuleType, roundtrip: Any) -> None:
    assert isinstance(howto.echo_app(), Component)
    server = TCPServer(("127.0.0.1", 0))
    async with howto.Echo() + server:
        assert await roundtrip(await server.wait_ready(), b"echo") == b"echo"


async def test_the_client_pings_and_prints_the_answer(
    howto: ModuleType, capsys: pytest.CaptureFixture[str]
) -> None:
    assert isinstance(howto.ping_app(), Component)
    got = asyncio.Event()

    class Answer(Component):
        def read(self, sock: Any, data: bytes) -> None:
            sock.write(b"pong\n")
            sock.close()

        def disconnect(self, sock: Any) -> None:
            got.set()

    server = TCPServer(("127.0.0.1", 0))
    async with Answer() + server:
        host, port = await server.wait_ready()
        client = TCPClient(channel="client")
        async with howto.Ping() + client:
            client.fire(Connect(host, port))
            await asyncio.wait_for(got.wait(), 5)
    assert "got b'pong\\n'" in capsys.readouterr().out


async def test_the_greeter_greets(howto: ModuleType) -> None:
    server = TCPServer(("127.0.0.1", 0))
    async with howto.Greeter() + server:
        address = await server.wait_ready()
        reader, writer = await asyncio.open_connection(*address)
        assert await asyncio.wait_for(reader.readline(), 5) == b"hello 127.0.0.1\n"
        writer.close()
        await writer.wait_closed()


def test_the_plugin_gives_the_same_server(howto: ModuleType) -> None:
    server = howto.server_from_the_plugin()
    assert isinstance(server, TCPServer)
    assert server.channel == "web"


def test_tls_servers_take_files_or_a_context(
    howto: ModuleType,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    server_cert: trustme.LeafCert,
    server_context: ssl.SSLContext,
) -> None:
    server_cert.cert_chain_pems[0].write_to_path(str(tmp_path / "server.pem"))
    server_cert.private_key_pem.write_to_path(str(tmp_path / "server.key"))
    monkeypatch.chdir(tmp_path)
    from_files, from_context = howto.tls_servers(server_context)
    assert from_files.secure
    assert from_context.ssl_context is server_context


async def test_starttls_upgrades(
    howto: ModuleType, server_context: ssl.SSLContext, client_context: ssl.SSLContext
) -> None:
    class Echo(Component):
        def read(self, sock: Any, data: bytes) -> bytes | None:
            return b"secure:" + data if sock.secure else None

    server = TCPServer(("127.0.0.1", 0))
    async with howto.Upgrade(server_context) + Echo() + server:
        address = await server.wait_ready()
        reader, writer = await asyncio.open_connection(*address)
        writer.write(b"STARTTLS\r\n")
        assert await asyncio.wait_for(reader.readline(), 5) == b"220 go ahead\r\n"
        await writer.start_tls(client_context, server_hostname="localhost")
        writer.write(b"hi")
        assert await asyncio.wait_for(reader.readexactly(9), 5) == b"secure:hi"
        writer.close()
        await writer.wait_closed()


def test_the_limits_and_defer_accept(howto: ModuleType) -> None:
    limited = howto.limited_server()
    assert limited.limits.max_connections == 2000
    assert limited.limits.idle_timeout == 60
    assert limited.limits.read_size == 16 * 1024
    assert howto.deferred_server().defer_accept == 1


async def test_the_producer_sends_every_chunk(howto: ModuleType) -> None:
    server = TCPServer(("127.0.0.1", 0), write_high_water=65536, write_low_water=16384)
    async with howto.Producer() + server:
        assert await talk(server, b"") == b"".join(howto.chunks())


async def test_a_slow_answer_is_given(howto: ModuleType) -> None:
    server = TCPServer(("127.0.0.1", 0))
    async with howto.Slow() + server:
        address = await server.wait_ready()
        reader, writer = await asyncio.open_connection(*address)
        writer.write(b"slow")
        assert await asyncio.wait_for(reader.readexactly(4), 5) == b"SLOW"
        writer.close()
        await writer.wait_closed()


async def test_the_summer_answers_after_the_eof(howto: ModuleType) -> None:
    server = TCPServer(("127.0.0.1", 0))
    async with howto.Summer() + server:
        assert await talk(server, b"1 2 3 4", half_close=True) == b"10\n"
