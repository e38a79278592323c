"""File regions: response body parts the server sends from a file, zero-copy where it can.

Theory of operation
-------------------
A streamed response body (an iterator or async iterator) may yield a
:class:`FileRegion` beside bytes. The protocol core accounts for its size and
frames it (:meth:`relays_http._protocol.Connection.send_file_region`) without
ever seeing its bytes; :func:`write_region` then moves them:

* when the transport's handle has ``sendfile`` (it is a
  :class:`relays.transports.SupportsSendfile`; relays-sockets' is), the
  handle sends them: on plain TCP that is the kernel's ``sendfile``, so the
  file's bytes never enter Python, and it waits for the socket to take them
  (backpressure); on TLS the handle reads and writes for us, waiting for the
  socket to drain. A region is handed over ``SENDFILE_SLICE`` bytes at a
  time: the handle marks the connection active on each call, so a long
  download is not closed as idle halfway. The handle tells the minimum
  response rate how far it got (see :mod:`relays_http._lifecycle`): a client
  reading a large file slowly is cut like any other slow reader;
* otherwise (the in-memory transport, or a handle whose ``sendfile`` raises
  :class:`NotImplementedError`) they are read ``REGION_READ_SIZE`` bytes at a time in a
  worker thread and written, waiting for ``drain()`` (when the handle has it)
  between two reads, so a slow client holds back the reads. These are plain
  writes: what waits in the transport is measured against the minimum
  response rate as any output is.

The region is sent in full before the body iterator is asked for its next
item, so the iterator may close the file after yielding its last region. A
file shorter than its region is an error (the promised length cannot be kept):
:class:`FileRegionShort` is raised and the server cuts the response short.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable
from typing import IO, Any

import attrs

from relays.transports import supports_sendfile

from ._limits import KiB, MiB

__all__ = ["REGION_READ_SIZE", "SENDFILE_SLICE", "FileRegion", "FileRegionShort", "write_region"]

#: Bytes read (in a worker thread) and written per step when a region cannot go
#: through ``sendfile``.
REGION_READ_SIZE = 256 * KiB
#: Most bytes one ``sendfile`` call is asked for (see the theory of operation).
SENDFILE_SLICE = 8 * MiB


def _not_negative(instance: object, attribute: attrs.Attribute[int], value: int) -> None:
    if type(value) is not int or value < 0:
        raise ValueError(f"a FileRegion's {attribute.name} must be an int >= 0, not {value!r}")


def _readable(instance: object, attribute: attrs.Attribute[Any], value: Any) -> None:
    if type(value) is int:
        if value < 0:
            raise ValueError(f"a FileRegion's file descriptor must be >= 0, not {value}")
    elif not callable(getattr(value, "fileno", None)):
        raise TypeError(
            f"a FileRegion's file must be an open binary file or a descriptor, "
            f"not {type(value).__name__}"
        )


@attrs.define(frozen=True)
class FileRegion:
    """*count* bytes of *file* from *offset*: a part of a streamed response body.

    Yield it from a response body iterator, between bytes if you like, and the
    server sends those bytes of the file without reading them into Python where
    the transport allows (``sendfile`` on plain TCP). *file* is an open binary
    file (``open(path, "rb")``) or a file descriptor; it stays yours to close,
    once the iterator is asked for its next item. Its position is undefined
    afterwards. With a ``Content-Length`` set, the regions and bytes yielded
    must add up to it, as bytes alone must.
    """

    file: IO[bytes] | int = attrs.field(validator=_readable)
    offset: int = attrs.field(validator=_not_negative)
    count: int = attrs.field(validator=_not_negative)


class FileRegionShort(EOFError):
    """A file ended before the region sent from it did (it shrank meanwhile)."""


async def write_region(
    sock: Any, region: FileRegion, drain: Callable[[], Awaitable[None]] | None
) -> None:
    """Write *region*'s bytes to *sock* (see the theory of operation)."""
    if supports_sendfile(sock):
        sendfile = sock.sendfile
        file = region.file
        # asyncio's sendfile takes a file object: a descriptor gets a borrowed one.
        handle: IO[bytes] = _borrow(file) if isinstance(file, int) else file
        offset, remaining = region.offset, region.count
        try:
            while remaining:
                step = min(remaining, SENDFILE_SLICE)
                sent = await sendfile(handle, offset, step)
                if sent != step:
                    raise FileRegionShort(
                        f"{region!r} ends {remaining - sent} bytes after the end of its file"
                    )
                offset += sent
                remaining -= sent
            return
        except NotImplementedError:  # an event loop without sendfile (uvloop)
            if remaining != region.count:  # pragma: no cover - it fails on the first call
                raise
        finally:
            if handle is not file:
                handle.close()
    await _copy_region(sock, region, drain)


def _borrow(descriptor: int) -> IO[bytes]:
    """A file object on *descriptor* that leaves it open when closed (no I/O)."""
    return open(descriptor, "rb", buffering=0, closefd=False)


async def _copy_region(
    sock: Any, region: FileRegion, drain: Callable[[], Awaitable[None]] | None
) -> None:
    loop = asyncio.get_running_loop()
    file = region.file
    descriptor = file if type(file) is int else file.fileno()  # type: ignore[union-attr]
    offset, remaining = region.offset, region.count
    while remaining:
        data = await loop.run_in_executor(
            None, os.pread, descriptor, min(remaining, REGION_READ_SIZE), offset
        )
        if not data:
            raise FileRegionShort(
                f"{region!r} ends {remaining} bytes after the end of its file: it shrank"
            )
        sock.write(data)
        offset += len(data)
        remaining -= len(data)
        if drain is not None:
            await drain()
        else:
            await asyncio.sleep(0)
