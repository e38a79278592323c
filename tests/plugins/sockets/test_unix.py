"""UNIX socket servers and clients: echo, the socket file's life, its mode."""

from __future__ import annotations

import asyncio
import os
import socket
import ssl
import stat
from pathlib import Path
from typing import Any

import pytest

from relays import Component
from relays.testing import Manager
from relays.transports import Write
from relays_sockets import SocketConnection, UNIXClient, UNIXServer

pytestmark = pytest.mark.integration


class Echo(Component):
    def read(self, sock: SocketConnection, data: bytes) -> bytes:
        return data


@pytest.fixture
def path(tmp_path: Path) -> str:
    return str(tmp_path / "app.sock")


async def test_unix_echo_and_events(path: str, tmp_path: Path, recorder: Any) -> None:
    server = UNIXServer(path)
    log = recorder()
    async with Echo() + log + server:
        assert await server.wait_ready() == path
        reader, writer = await asyncio.open_unix_connection(path)
        writer.write(b"local")
        assert await asyncio.wait_for(reader.readexactly(5), 5) == b"local"
        connect = (await log.until("connect"))[0]
        assert connect.args[1:] == (None, None)
        assert connect.args[0].local == path
        writer.close()
        await writer.wait_closed()
        await log.until("disconnect")
    assert "app.sock" not in os.listdir(tmp_path), "the socket file is removed on stop"


async def test_stale_socket_file_is_removed_and_mode_applied(path: str) -> None:
    stale = socket.socket(socket.AF_UNIX)
    stale.bind(path)
    stale.close()  # the file stays, nobody listens: a crashed server's leftover
    server = UNIXServer(f"unix://{path}", mode=0o600)
    async with Echo() + server:
        await server.wait_ready()
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
        reader, writer = await asyncio.open_unix_connection(path)
        writer.write(b"fresh")
        assert await asyncio.wait_for(reader.readexactly(5), 5) == b"fresh"
        writer.close()
        await writer.wait_closed()


async def test_live_socket_file_is_not_stolen(path: str) -> None:
    first = UNIXServer(path)
    async with Echo() + first:
        await first.wait_ready()
        second = UNIXServer(path)
        async with Manager() + second:
            with pytest.raises(OSError, match="in use"):
                await second.wait_ready()
        reader, writer = await asyncio.open_unix_connection(path)
        writer.write(b"mine")
        assert await asyncio.wait_for(reader.readexactly(4), 5) == b"mine"
        writer.close()
        await writer.wait_closed()


async def test_a_file_that_is_not_a_socket_is_never_removed(tmp_path: Path) -> None:
    precious = tmp_path / "data.txt"
    precious.write_text("keep me")
    server = UNIXServer(str(precious))
    async with Manager() + server:
        with pytest.raises(FileExistsError):
            await server.wait_ready()
    assert precious.read_text() == "keep me"


async def test_unix_client(path: str, recorder: Any) -> None:
    server = UNIXServer(path)
    async with Echo() + server:
        await server.wait_ready()
        client = UNIXClient(path)
        log = recorder()
        async with Manager() + log + client:
            connected = await log.until("connected")
            assert connected[0].args == (path, None)
            client.fire(Write(b"over unix"))
            reads = await log.until("read")
            assert reads[0].args == (b"over unix",)


def test_unix_refuses_tcp_addresses() -> None:
    with pytest.raises(ValueError, match="socket path"):
        UNIXServer(("127.0.0.1", 80))


@pytest.mark.parametrize("tls", [False, True], ids=["plain", "tls"])
async def test_secure_says_what_the_transport_says(
    path: str,
    tls: bool,
    server_context: ssl.SSLContext,
    client_context: ssl.SSLContext,
    recorder: Any,
) -> None:
    # ``secure`` comes from the endpoint (asking the transport costs a call per
    # connection); it must agree with the transport on both sides.
    server = UNIXServer(path, ssl_context=server_context if tls else None)
    log = recorder()
    async with Echo() + log + server:
        await server.wait_ready()
        client = UNIXClient(path, ssl_context=client_context if tls else None)
        client_log = recorder()
        async with Manager() + client_log + client:
            await client_log.until("connected")
            client.fire(Write(b"hello"))
            await client_log.until("read")
            sides = [(await log.until("connect"))[0].args[0], client.sock]
            for sock in sides:
                assert sock.secure is tls
                assert sock.secure is (sock.get_extra_info("sslcontext") is not None)
