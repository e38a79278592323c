"""Sending a file where the loop has no ``sendfile`` (uvloop): with the kernel's
``sendfile`` on the socket itself when the connection is plain, else by reading and
writing (TLS).
"""

from __future__ import annotations

import asyncio
import os
import socket
from typing import IO, TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._connection import SocketConnection

__all__ = ["copy_file", "send_file"]

#: Bytes read per step when copying.
COPY_CHUNK = 256 * 1024
#: Bytes the kernel is asked to send per ``sendfile`` call.
SENDFILE_CHUNK = 1024 * 1024


async def send_file(
    connection: SocketConnection,
    transport: asyncio.BaseTransport,
    file: IO[bytes],
    offset: int,
    count: int | None,
) -> int:
    """Send *file* with the kernel's ``sendfile`` on a plain connection's socket, once
    what the transport has buffered is out; copy it where there is no socket to send on.

    The transport's own descriptor is watched by the loop for the transport only, so
    waiting until the socket can take more is done on a duplicate of it.
    """
    raw: Any = transport.get_extra_info("socket")
    if raw is None or transport.get_extra_info("sslcontext") is not None:
        return await copy_file(connection, file, offset, count)
    await connection._flushed()
    loop = asyncio.get_running_loop()
    source = file.fileno()
    watched = socket.socket(fileno=os.dup(raw.fileno()))
    sent = 0
    try:
        while count is None or sent < count:
            size = SENDFILE_CHUNK if count is None else min(SENDFILE_CHUNK, count - sent)
            try:
                done = os.sendfile(watched.fileno(), source, offset + sent, size)
            except (BlockingIOError, InterruptedError):
                writable = loop.create_future()
                loop.add_writer(watched.fileno(), _wake, writable)
                try:
                    await writable
                finally:
                    loop.remove_writer(watched.fileno())
                continue
            except OSError as error:
                raise ConnectionError(f"sendfile on {connection!r} failed: {error}") from error
            if not done:
                break  # the end of the file
            sent += done
    finally:
        watched.close()
    return sent


def _wake(writable: asyncio.Future[None]) -> None:
    if not writable.done():
        writable.set_result(None)


async def copy_file(
    connection: SocketConnection, file: IO[bytes], offset: int, count: int | None
) -> int:
    """Read *file* in a worker thread and write it, waiting for the peer between chunks
    (``drain``), so a large file never sits whole in the write buffer."""
    loop = asyncio.get_running_loop()
    descriptor = file.fileno()
    sent = 0
    while count is None or sent < count:
        size = COPY_CHUNK if count is None else min(COPY_CHUNK, count - sent)
        chunk = await loop.run_in_executor(None, os.pread, descriptor, size, offset + sent)
        if not chunk:
            break
        connection.write(chunk)
        sent += len(chunk)
        await connection.drain()
    return sent
