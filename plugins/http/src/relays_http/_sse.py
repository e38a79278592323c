"""Server-sent events: a ``text/event-stream`` body made from the events a page yields.

Theory of operation
-------------------
An event stream is a streamed response body of UTF-8 text in which each event is
a few ``field: value`` lines ended by a blank line (the WHATWG HTML standard,
"Server-sent events"): ``data`` (repeated, one line each, for text with line
breaks), ``event`` (its type), ``id`` (which the browser sends back in
``Last-Event-ID`` when it reconnects) and ``retry`` (milliseconds before it
reconnects). A line starting with ``:`` is a comment, ignored by the browser: we
send one when nothing else was sent for ``keep_alive`` seconds, so proxies and
load balancers do not close an idle stream as dead.

:func:`event_stream` wraps the page's source of events (an iterator or async
iterator of :class:`ServerSentEvent`, ``str`` or JSON-able values) into such a
body, and sets the response's fields (type, ``Cache-Control: no-cache``, and
``X-Accel-Buffering: no`` for nginx). Waiting for the next event runs in a task,
so that a keep-alive comment can go out meanwhile without cancelling the source.
When the client goes away the server closes the body, which cancels that task
and closes the source, so a page's ``finally`` runs.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterable, AsyncIterator, Iterable
from typing import Any

import attrs

from ._request import Request
from ._response import Response

__all__ = ["DEFAULT_KEEP_ALIVE", "ServerSentEvent", "event_stream", "last_event_id"]

#: Seconds without an event after which a keep-alive comment is sent.
DEFAULT_KEEP_ALIVE = 15.0
_KEEP_ALIVE_COMMENT = b": keep-alive\n\n"


def _single_line(name: str, value: str) -> str:
    if "\n" in value or "\r" in value or "\0" in value:
        raise ValueError(f"an event's {name} must be one line without NUL, not {value!r}")
    return value


@attrs.frozen
class ServerSentEvent:
    """One event of a stream: *data* (text; line breaks become several ``data``
    lines), its type *event*, its *id*, and *retry* (milliseconds)."""

    data: str = ""
    event: str | None = None
    id: str | None = None
    retry: int | None = None

    def encode(self) -> bytes:
        """The event as it goes on the wire, blank line included."""
        lines: list[str] = []
        if self.event is not None:
            lines.append("event: " + _single_line("type", self.event))
        if self.id is not None:
            lines.append("id: " + _single_line("id", self.id))
        if self.retry is not None:
            if type(self.retry) is not int or self.retry < 0:
                raise ValueError(f"retry is a number of milliseconds >= 0, not {self.retry!r}")
            lines.append(f"retry: {self.retry}")
        for line in self.data.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
            lines.append("data: " + line if line else "data:")
        return ("\n".join(lines) + "\n\n").encode("utf-8")


def _encode(item: Any) -> bytes:
    if isinstance(item, ServerSentEvent):
        return item.encode()
    if isinstance(item, str):
        return ServerSentEvent(item).encode()
    return ServerSentEvent(json.dumps(item, separators=(",", ":"))).encode()


def last_event_id(request: Request) -> str | None:
    """The ``Last-Event-ID`` a reconnecting browser sent: resume after that event."""
    value = request.header(b"last-event-id")
    return None if value is None else value.decode("utf-8", "replace")


def event_stream(
    response: Response,
    events: AsyncIterable[Any] | Iterable[Any],
    *,
    keep_alive: float | None = DEFAULT_KEEP_ALIVE,
    retry: int | None = None,
) -> AsyncIterator[bytes]:
    """A ``text/event-stream`` body of *events*; return it from the page.

    *events* yields :class:`ServerSentEvent` values, ``str`` (sent as data) or
    anything else JSON can encode (sent as JSON data). *keep_alive* is the seconds
    of silence after which a comment is sent (None: never); *retry* is sent first,
    to set the browser's reconnection delay. Sets the fields of *response*.
    """
    if keep_alive is not None and not keep_alive > 0:
        raise ValueError(f"keep_alive is a number of seconds > 0 or None, not {keep_alive!r}")
    headers = response.headers
    headers["content-type"] = "text/event-stream; charset=utf-8"
    headers["cache-control"] = "no-cache"
    headers["x-accel-buffering"] = "no"
    if retry is not None and (type(retry) is not int or retry < 0):
        raise ValueError(f"retry is a number of milliseconds >= 0, not {retry!r}")
    first = b"" if retry is None else f"retry: {retry}\n\n".encode()  # no data: no event
    return _stream(events, keep_alive, first)


async def _aiter(events: Iterable[Any]) -> AsyncIterator[Any]:
    for item in events:
        yield item


async def _stream(
    events: AsyncIterable[Any] | Iterable[Any], keep_alive: float | None, first: bytes
) -> AsyncIterator[bytes]:
    source: AsyncIterator[Any] = (
        aiter(events) if isinstance(events, AsyncIterable) else _aiter(events)
    )
    pending: asyncio.Task[Any] | None = None
    try:
        if first:
            yield first
        while True:
            pending = asyncio.ensure_future(anext(source))
            while True:
                done, _ = await asyncio.wait({pending}, timeout=keep_alive)
                if done:
                    break
                yield _KEEP_ALIVE_COMMENT
            try:
                item = pending.result()
            except StopAsyncIteration:
                return
            finally:
                pending = None
            yield _encode(item)
    finally:
        if pending is not None:
            pending.cancel()
            await asyncio.gather(pending, return_exceptions=True)
        close = getattr(source, "aclose", None)
        if close is not None:
            await close()
