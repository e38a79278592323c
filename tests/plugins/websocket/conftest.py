"""Fixtures of the relays-websocket tests: peers from the ``websockets`` library."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager

import pytest
import websockets
from websockets.asyncio.server import ServerConnection


async def _echo(connection: ServerConnection) -> None:
    async for message in connection:
        await connection.send(message)


@contextlib.asynccontextmanager
async def _echo_server() -> AsyncIterator[str]:
    async with websockets.serve(_echo, "127.0.0.1", 0) as server:
        port = server.sockets[0].getsockname()[1]
        yield f"ws://127.0.0.1:{port}/echo"


Peer = tuple[asyncio.StreamReader, asyncio.StreamWriter]


@contextlib.asynccontextmanager
async def _raw_server() -> AsyncIterator[tuple[str, asyncio.Queue[Peer]]]:
    writers: asyncio.Queue[Peer] = asyncio.Queue()

    accepted_writers: list[asyncio.StreamWriter] = []

    async def accepted(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        accepted_writers.append(writer)
        await writers.put((reader, writer))

    server = await asyncio.start_server(accepted, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"ws://127.0.0.1:{port}/", writers
    finally:
        for writer in accepted_writers:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()
        server.close()
        await server.wait_closed()


@pytest.fixture
def echo_server() -> Callable[[], AbstractAsyncContextManager[str]]:
    """``async with echo_server() as url``: a ``websockets`` echo server on loopback."""
    return _echo_server


RawServer = AbstractAsyncContextManager[tuple[str, "asyncio.Queue[Peer]"]]


@pytest.fixture
def raw_server() -> Callable[[], RawServer]:
    """``async with raw_server() as (url, peers)``: a bare TCP server; each accepted
    connection's ``(reader, writer)`` comes out of *peers*, and the test plays the
    "WebSocket server" on it."""
    return _raw_server
