"""Streamed response bodies: iterators, async iterators and file regions.

Theory of operation
-------------------
A handler that answers with an iterator or an async iterator has its response
head written at once (see :mod:`relays_http._connection`); the connection then
runs :func:`stream_body` in a task, which writes each chunk through the protocol
core (chunked framing, or none for ``HEAD``) and waits for ``sock.drain()``
between two chunks when the transport has it, so a slow client holds back the
iterator (backpressure); without ``drain`` it yields to the loop instead. A
client that reads fast never makes ``drain`` wait, and a body that never waits
itself (a sync iterator, or an async one that only yields) would then hold the
loop until its end, stalling every other client: so the stream also yields to
the loop after each :data:`YIELD_EVERY_BYTES` or :data:`YIELD_EVERY_SECONDS`,
whichever comes first. A
:class:`~relays_http.FileRegion` is framed by the core and its bytes moved by
:func:`~relays_http._files.write_region` (``sendfile`` where it can).

Bytes sent. While something listens for ``response``, each chunk's length (a
region's count) is counted for the connection, and becomes
``Response.bytes_sent``; otherwise nothing is counted.

Trailers. A body may yield a :class:`Trailers` last: its fields go out in the
chunked body's trailer section, after the last chunk, when the client said it
takes them (``TE: trailers``, RFC 9110 10.1.4) and the body is chunked; otherwise
they are dropped (a Content-Length or HTTP/1.0 body, a HEAD response cannot carry
them, and a client that did not ask may not keep them). Declare their names in
the response's ``Trailer`` field, which goes out with the head.

Endings. When the body is exhausted the end of the message goes out and the
connection starts the next cycle. A client that went away (``drain``
or ``sendfile`` raised ``ConnectionError``: :class:`ClientGone`) is an aborted
download: the connection is closed quietly. A body that raises is the app's
failure: it is logged and the response cut short, which the client sees as an
incomplete message. Cancelled (the connection closed, or the server stopped),
the task closes the connection. In every case the iterator is closed.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

from . import _protocol as protocol
from ._bodies import chunk_bytes
from ._files import FileRegion, write_region

if TYPE_CHECKING:
    from relays.transports import Connection

__all__ = [
    "ClientGone",
    "Trailers",
    "aclose_iterator",
    "close_iterator",
    "send_region",
    "stream_body",
]

logger = logging.getLogger("relays.http")

_Data = protocol.Data
_END = protocol.EndOfMessage()

#: A stream yields to the loop at least after this many bytes of body...
YIELD_EVERY_BYTES = 64 * 1024
#: ...or this many seconds, whichever comes first (other clients wait meanwhile).
YIELD_EVERY_SECONDS = 0.001


class Trailers:
    """Trailer fields for a streamed response: the last thing its body yields.

    ``yield Trailers({"Server-Timing": "total;dur=12"})`` after the last chunk; the
    fields follow it in the chunked body's trailer section. They are sent only when
    the client asked for trailers (``TE: trailers``) and the body is chunked, else
    dropped; name them in the response's ``Trailer`` field first. A field the
    framing owns (``Content-Length``, ``Transfer-Encoding``, ``Host``,
    ``Connection``, ``Trailer``) or a value with CR or LF is the app's mistake: the
    response is cut short and the error logged.
    """

    __slots__ = ("fields",)

    def __init__(
        self, fields: Mapping[str, str] | Iterable[tuple[str | bytes, str | bytes]]
    ) -> None:
        items = fields.items() if isinstance(fields, Mapping) else fields
        #: The ``(name, value)`` pairs, in order.
        self.fields: list[tuple[str | bytes, str | bytes]] = list(items)

    def __repr__(self) -> str:
        return f"Trailers({self.fields!r})"


def accepts_trailers(request: object) -> bool:
    """Whether *request* (a :class:`~relays_http.Request`) says ``TE: trailers``."""
    header = getattr(request, "header", None)
    value = header(b"te") if header is not None else None
    if not value:
        return False
    return any(part.split(b";")[0].strip().lower() == b"trailers" for part in value.split(b","))


class ClientGone(Exception):
    """Writing a streamed body failed because the client went away.

    Told apart from a ``ConnectionError`` the body iterator raises (an upstream
    that refused, say), which is the app's failure and is logged.
    """

    @staticmethod
    def guard(drain: Callable[[], Awaitable[None]]) -> Callable[[], Awaitable[None]]:
        async def guarded() -> None:
            try:
                await drain()
            except ConnectionError as error:
                raise ClientGone(str(error)) from error

        return guarded


async def stream_body(
    sock: Connection,
    core: protocol.Connection,
    body: Any,
    drain: Callable[[], Awaitable[None]] | None,
    count: Callable[[int], None] | None,
    request: object,
) -> bool:
    """Write *body* through *core* to *sock*; True once its end is written.

    *drain* (the connection's, when it has one) is awaited after each chunk;
    *count* is told each chunk's size, when bytes are counted. False means the
    response was cut short and the connection closed (the client went away, or
    the body raised: logged, naming *request*). Cancelled, it closes the
    connection too. In every case the iterator is closed.
    """
    if drain is not None:
        drain = ClientGone.guard(drain)

    clock = time.monotonic
    # Bytes sent since the stream last yielded to the loop, and when it did.
    unyielded = 0
    yielded_at = clock()

    trailers: Trailers | None = None

    async def send(chunk: Any) -> None:
        nonlocal unyielded, yielded_at, trailers
        if trailers is not None:
            raise TypeError("a streamed body yielded something after its Trailers")
        if type(chunk) is Trailers:
            trailers = chunk
            return
        if isinstance(chunk, FileRegion):
            await send_region(core, sock, chunk, drain)
            size = chunk.count
        else:
            data = chunk_bytes(chunk)
            sock.write(core.send(_Data(data)))
            size = len(data)
            if drain is not None:
                await drain()
        if count is not None:
            count(size)
        # drain() returns at once while the client keeps up: yield anyway, now and then.
        unyielded += size
        if unyielded >= YIELD_EVERY_BYTES or clock() - yielded_at >= YIELD_EVERY_SECONDS:
            await asyncio.sleep(0)
            unyielded = 0
            yielded_at = clock()

    try:
        if hasattr(body, "__aiter__"):
            async for chunk in body:
                await send(chunk)
        else:
            for chunk in body:
                await send(chunk)
                if drain is None:
                    await asyncio.sleep(0)  # without backpressure: after every chunk
        end = _END
        if (
            trailers is not None
            and trailers.fields
            and core.sends_trailers
            and accepts_trailers(request)
        ):
            end = protocol.EndOfMessage(trailers.fields)
        sock.write(core.send(end))
    except ClientGone:
        # An aborted download: nothing to report, and nobody awaits this task,
        # so raising would only make asyncio log "exception never retrieved".
        core.send_failed()
        sock.close()
        await aclose_iterator(body)
        return False
    except asyncio.CancelledError:
        sock.close()
        await aclose_iterator(body)
        raise
    except Exception:
        # The head is gone already: all we can do is cut the body short, which
        # the client sees as an incomplete message.
        logger.exception("streaming the response body of %r failed", request)
        core.send_failed()
        sock.close()
        await aclose_iterator(body)
        return False
    return True


async def send_region(
    conn: protocol.Connection,
    sock: Connection,
    region: FileRegion,
    drain: Callable[[], Awaitable[None]] | None,
) -> None:
    """Frame *region* with the core, then let ``write_region`` move its bytes."""
    framing = conn.send_file_region(region.count)
    if framing is None:  # HEAD, or an empty region
        return
    before, after = framing
    if before:
        sock.write(before)
    try:
        await write_region(sock, region, drain)
    except ConnectionError as error:
        raise ClientGone(str(error)) from error
    if after:
        sock.write(after)


def close_iterator(body: Any) -> None:
    """Close a (synchronous) iterator that has ``close``."""
    close = getattr(body, "close", None)
    if close is not None and not hasattr(body, "__aiter__"):
        close()


async def aclose_iterator(body: Any) -> None:
    """Close an async iterator (``aclose``) or an iterator (``close``); log failures."""
    aclose = getattr(body, "aclose", None)
    if aclose is not None:
        try:
            await aclose()
        except Exception:
            logger.exception("closing the streamed body failed")
    else:
        close_iterator(body)
