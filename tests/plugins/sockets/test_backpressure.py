"""Backpressure: a peer that does not read cannot make the server buffer without bound."""

from __future__ import annotations

import asyncio
import io
import os
from typing import Any

import pytest

from relays import Component
from relays_sockets import SocketConnection, SocketLimits, TCPServer

pytestmark = pytest.mark.integration

LIMITS = SocketLimits(write_high_water=128 * 1024, write_low_water=32 * 1024, read_size=16 * 1024)


class Echo(Component):
    def __init__(self) -> None:
        super().__init__()
        self.largest_buffer = 0
        self.paused_seen = False

    def read(self, sock: SocketConnection, data: bytes) -> bytes:
        self.largest_buffer = max(self.largest_buffer, sock.write_buffer_size)
        return data

    def connect(self, sock: SocketConnection, host: str, port: int) -> None:
        self.sock = sock


async def test_a_slow_reader_pauses_reading_and_memory_stays_bounded() -> None:
    echo = Echo()
    server = TCPServer(("127.0.0.1", 0), limits=LIMITS)
    async with echo + server:
        address = await server.wait_ready()
        reader, writer = await asyncio.open_connection(*address)
        chunk = b"x" * 65536
        sent = 0
        # Send without reading until the server stops taking our bytes (or 64 MiB).
        while sent < 64 * 1024 * 1024:
            writer.write(chunk)
            sent += len(chunk)
            try:
                await asyncio.wait_for(writer.drain(), 0.5)
            except TimeoutError:
                break
        else:
            pytest.fail("the server kept reading although nobody read its replies")
        sock = echo.sock
        assert not sock.reading, "reading from the peer is paused"
        # What the server holds: below high water plus one read's echo.
        bound = LIMITS.write_high_water + LIMITS.read_size
        assert echo.largest_buffer <= bound
        assert sock.write_buffer_size <= bound
        # Now read it all back: reading resumes and nothing is lost.
        received = 0
        while received < sent:
            data = await asyncio.wait_for(reader.read(1 << 20), 5)
            assert data, "the server closed early"
            received += len(data)
        assert received == sent
        assert sock.reading
        writer.close()
        await writer.wait_closed()


async def test_drain_lets_a_producer_wait_for_a_slow_peer() -> None:
    total = 8 * 1024 * 1024
    largest = 0

    class Producer(Component):
        async def connect(self, sock: SocketConnection, host: str, port: int) -> None:
            nonlocal largest
            chunk = b"y" * 65536
            for _ in range(total // len(chunk)):
                sock.write(chunk)
                largest = max(largest, sock.write_buffer_size)
                await sock.drain()
            sock.close()

    server = TCPServer(("127.0.0.1", 0), limits=LIMITS)
    async with Producer() + server:
        address = await server.wait_ready()
        reader, writer = await asyncio.open_connection(*address)
        received = 0
        while True:
            data = await asyncio.wait_for(reader.read(16384), 5)
            if not data:
                break
            received += len(data)
            await asyncio.sleep(0)  # a slow consumer
        assert received == total
        assert largest <= LIMITS.write_high_water + 65536
        writer.close()
        await writer.wait_closed()


async def test_slow_async_handlers_pause_reading_instead_of_queueing(recorder: Any) -> None:
    most_pending = 0

    class Slow(Component):
        async def read(self, sock: SocketConnection, data: bytes) -> bytes:
            nonlocal most_pending
            most_pending = max(most_pending, sock.pending_reads)
            await asyncio.sleep(0.002)
            return data

    server = TCPServer(("127.0.0.1", 0), max_pending_reads=4, read_size=8)
    async with Slow() + server:
        address = await server.wait_ready()
        reader, writer = await asyncio.open_connection(*address)
        message = bytes(range(256)) * 4
        writer.write(message)
        echoed = await asyncio.wait_for(reader.readexactly(len(message)), 10)
        assert sorted(echoed) == sorted(message)  # async handlers may finish out of order
        assert most_pending <= 5
        writer.close()
        await writer.wait_closed()


async def test_sendfile_sends_a_file(tmp_path: Any) -> None:
    content = bytes(range(256)) * 4096
    (tmp_path / "blob").write_bytes(content)

    class Files(Component):
        async def connect(self, sock: SocketConnection, host: str, port: int) -> None:
            with (tmp_path / "blob").open("rb") as file:
                assert await sock.sendfile(file, 256, len(content) - 512) == len(content) - 512
            sock.close()

    server = TCPServer(("127.0.0.1", 0))
    async with Files() + server:
        address = await server.wait_ready()
        reader, writer = await asyncio.open_connection(*address)
        assert await asyncio.wait_for(reader.read(), 5) == content[256:-256]
        writer.close()
        await writer.wait_closed()


async def test_a_file_being_sent_shows_its_progress(
    serving: Any, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The kernel's sendfile bypasses the transport: the connection counts each step
    # (bytes_sent) and what of the file still waits (write_buffer_size), so that a
    # minimum response rate can measure the peer. Seen when a step first finds the
    # socket full (the peer reads nothing until then), and at the end.
    content = bytes(range(256)) * 32768  # 8 MiB: more than socket buffers hold (4 MiB by default)
    (tmp_path / "blob").write_bytes(content)
    head = b"head" * 1000
    count = len(content) - 512
    steps: list[int] = []
    seen: list[tuple[int, int, int]] = []
    full = asyncio.Event()
    real_sendfile = os.sendfile

    def stepping(out_fd: int, in_fd: int, offset: int | None, size: int) -> int:
        try:
            done = real_sendfile(out_fd, in_fd, offset, size)
        except BlockingIOError:
            if not full.is_set():
                seen.append((sum(steps), sock.bytes_sent, sock.write_buffer_size))
                full.set()
            raise
        steps.append(done)
        return done

    monkeypatch.setattr(os, "sendfile", stepping)
    sock: SocketConnection
    finished = asyncio.Event()

    class Files(Component):
        async def connect(self, connection: SocketConnection, host: str, port: int) -> None:
            nonlocal sock
            sock = connection
            sock.write(head)
            with (tmp_path / "blob").open("rb") as file:
                assert await sock.sendfile(file, 256, count) == count
            finished.set()

    server = serving()
    async with Files() + server:
        address = await server.wait_ready()
        reader, writer = await asyncio.open_connection(*address)
        await asyncio.wait_for(full.wait(), 10)
        [(taken, sent, waiting)] = seen
        assert sent == len(head) + taken
        assert waiting == count - taken
        received = await asyncio.wait_for(reader.readexactly(len(head) + count), 10)
        await asyncio.wait_for(finished.wait(), 10)
        assert received == head + content[256:-256]
        assert (sock.bytes_sent, sock.write_buffer_size) == (len(head) + count, 0)
        writer.close()
        await writer.wait_closed()


async def test_a_file_the_kernel_cannot_send_is_copied_and_counted(serving: Any) -> None:
    content = bytes(range(256)) * 1024
    sock: SocketConnection
    finished = asyncio.Event()

    class Files(Component):
        async def connect(self, connection: SocketConnection, host: str, port: int) -> None:
            nonlocal sock
            sock = connection
            # No descriptor: read and written through the transport, counted as writes.
            assert await sock.sendfile(io.BytesIO(content), 100) == len(content) - 100
            finished.set()

    server = serving()
    async with Files() + server:
        address = await server.wait_ready()
        reader, writer = await asyncio.open_connection(*address)
        received = await asyncio.wait_for(reader.readexactly(len(content) - 100), 10)
        await asyncio.wait_for(finished.wait(), 10)
        assert received == content[100:]
        assert (sock.bytes_sent, sock.write_buffer_size) == (len(content) - 100, 0)
        writer.close()
        await writer.wait_closed()
