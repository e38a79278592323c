"""Sending a file by hand, where the loop has no ``sendfile`` (uvloop, TLS elsewhere)."""

from __future__ import annotations

import asyncio
import os
from typing import IO, TYPE_CHECKING

if TYPE_CHECKING:
    from ._connection import SocketConnection

__all__ = ["copy_file"]

#: Bytes read per step.
COPY_CHUNK = 256 * 1024


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
