"""Sending a file on a connection, in steps whose progress the connection keeps.

Theory of operation
-------------------
:meth:`SocketConnection.sendfile <relays_sockets.SocketConnection.sendfile>` comes
here on every event loop. A plain connection (TCP, UNIX) sends a regular file with
the kernel's ``sendfile`` on its own socket, :data:`SENDFILE_CHUNK` bytes per call at
most, once what the transport had buffered is out; when the socket is full it waits
until it is writable again. Waiting is done on a duplicate of the socket's
descriptor, as the original is the transport's to watch. A file that cannot go
through ``sendfile`` (no descriptor, not a regular file) and a TLS connection (whose
bytes must be encrypted) are copied instead: read in a worker thread, written, and
drained between two chunks.

Progress. The file's bytes never pass through the transport, so the connection
would not know how far a transfer got: a peer reading it at one byte per second
would look like a peer with nothing to read. So the connection is told, as each
step is taken by the kernel, how many bytes went (they count in its ``bytes_sent``)
and how many of the file still wait (they count in its ``write_buffer_size``): a
minimum response rate (relays-http's) measures a file like any other answer. A copy
needs no telling: its bytes go through ``write``.
"""

from __future__ import annotations

import asyncio
import errno
import io
import os
import socket
import stat
from typing import IO, TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._connection import SocketConnection

__all__ = ["copy_file", "send_file"]

#: Bytes read per step when copying.
COPY_CHUNK = 256 * 1024
#: Bytes the kernel is asked to send per ``sendfile`` call.
SENDFILE_CHUNK = 1024 * 1024
#: What ``sendfile`` says, on its first call, of a file or socket it cannot send
#: (then the file is copied).
_NOT_SENDABLE = {errno.EINVAL, errno.ENOSYS, errno.ENOTSOCK, errno.EOPNOTSUPP, errno.ENOTSUP}


def _sendable_size(file: IO[bytes]) -> int | None:
    """The size of *file* when the kernel can send it (a regular file), else None."""
    try:
        status = os.fstat(file.fileno())
    except (AttributeError, OSError, ValueError, io.UnsupportedOperation):
        return None
    return status.st_size if stat.S_ISREG(status.st_mode) else None


async def send_file(
    connection: SocketConnection,
    transport: asyncio.BaseTransport,
    file: IO[bytes],
    offset: int,
    count: int | None,
) -> int:
    """Send *file* from *offset*, *count* bytes (None: to its end), as the theory of
    operation says; return the bytes sent (fewer when the file ends first)."""
    raw: Any = transport.get_extra_info("socket")
    size = _sendable_size(file)
    if raw is None or size is None or transport.get_extra_info("sslcontext") is not None:
        return await copy_file(connection, file, offset, count)
    await connection._flushed()
    loop = asyncio.get_running_loop()
    source = file.fileno()
    left = max(size - offset, 0) if count is None else count
    watched = socket.socket(fileno=os.dup(raw.fileno()))
    sent = 0
    sendable = True
    connection._file_waiting(left)
    try:
        while left:
            try:
                done = os.sendfile(
                    watched.fileno(), source, offset + sent, min(SENDFILE_CHUNK, left)
                )
            except (BlockingIOError, InterruptedError):
                writable = loop.create_future()
                loop.add_writer(watched.fileno(), _wake, writable)
                try:
                    await writable
                finally:
                    loop.remove_writer(watched.fileno())
                continue
            except OSError as error:
                if not sent and error.errno in _NOT_SENDABLE:
                    sendable = False
                    break
                raise ConnectionError(f"sendfile on {connection!r} failed: {error}") from error
            if not done:
                break  # the end of the file (it shrank)
            sent += done
            left -= done
            connection._file_sent(done)
    finally:
        connection._file_waiting(0)
        watched.close()
    if not sendable:
        return await copy_file(connection, file, offset, count)
    return sent


def _wake(writable: asyncio.Future[None]) -> None:
    if not writable.done():
        writable.set_result(None)


def _read_at(file: IO[bytes], offset: int, size: int) -> bytes:
    """*size* bytes of *file* at *offset* (fewer at its end); in a worker thread."""
    try:
        descriptor = file.fileno()
    except (AttributeError, OSError, ValueError, io.UnsupportedOperation):
        file.seek(offset)
        return file.read(size)
    return os.pread(descriptor, size, offset)


async def copy_file(
    connection: SocketConnection, file: IO[bytes], offset: int, count: int | None
) -> int:
    """Read *file* in a worker thread and write it, waiting for the peer between chunks
    (``drain``), so a large file never sits whole in the write buffer."""
    loop = asyncio.get_running_loop()
    sent = 0
    while count is None or sent < count:
        size = COPY_CHUNK if count is None else min(COPY_CHUNK, count - sent)
        chunk = await loop.run_in_executor(None, _read_at, file, offset + sent, size)
        if not chunk:
            break
        connection.write(chunk)
        sent += len(chunk)
        await connection.drain()
    return sent
