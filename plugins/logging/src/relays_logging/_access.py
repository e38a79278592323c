"""The access log: one line per response, through the stdlib ``logging`` module.

Theory of operation
-------------------
relays-http fires ``request(request, response)`` when a request is complete and
``response(request, response)`` once the answer is handed to the transport (only
while somebody listens for it, which :class:`AccessLog` does). The access log
listens to both on the server's channel: a high-priority ``request`` handler notes
the time and the request event's value in ``request.context`` (and returns
nothing, so it never answers), the ``response`` handler builds an
:class:`AccessRecord`, formats it and logs it.

Bytes sent. relays-http sets :attr:`relays_http.Response.bytes_sent` on the
response it wrote (whole, streamed, error page; 0 for ``HEAD``), and that is the
size logged. Only when it is missing (a server that does not set it) is the size
worked out from what the handler answered, when that is certain, else logged as
unknown (``-`` / ``null``).

Time. :attr:`relays_http.Request.received_at` is when the first byte of the head
was read, in the loop's clock; the duration runs from there to the ``response``
event, so it includes receiving the body, and the logged time is that moment on
the wall clock. Requests without it fall back to when the ``request`` event ran.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from typing import Any, Literal

from relays import BaseComponent, Event, Value, handler
from relays.transports import Connection
from relays_http import Request, Response

from ._formats import AccessRecord, format_combined, format_json

__all__ = ["AccessLog"]

#: The ``request.context`` key under which the access log keeps its notes.
_CONTEXT_KEY = "relays_logging.access"

Format = Literal["combined", "json"]
_FORMATTERS = {"combined": format_combined, "json": format_json}


class AccessLog(BaseComponent):
    """Log one line per response to the logger *logger* (default ``relays.access``).

    Register it into the server (``server += AccessLog()``) or anywhere in the tree
    with the server's *channel*. *format* is ``"combined"`` (Apache's combined
    format plus the duration in microseconds) or ``"json"`` (one object per line).
    The client address is ``request.remote``: the connection's peer, or the client
    that a :class:`relays_http.TrustedProxies` in the tree found in ``Forwarded`` or
    ``X-Forwarded-For`` (the peer is then :attr:`AccessRecord.peer`). Lines go out
    at level INFO; handlers, rotation and destinations are the
    logging configuration's business.
    """

    channel = "web"

    def __init__(
        self,
        *,
        format: Format = "combined",
        logger: logging.Logger | str = "relays.access",
        level: int = logging.INFO,
        channel: Any = "web",
    ) -> None:
        super().__init__(channel=channel)
        if format not in _FORMATTERS:
            raise ValueError(f"access log format must be 'combined' or 'json', not {format!r}")
        #: ``"combined"`` or ``"json"``.
        self.format = format
        self._formatter = _FORMATTERS[format]
        #: The logger lines are written to.
        self.logger = logging.getLogger(logger) if isinstance(logger, str) else logger
        #: The level of every line.
        self.level = level

    @handler("request", priority=10_000)
    def _on_request(self, event: Event, request: Request, response: Response) -> None:
        request.context[_CONTEXT_KEY] = (time.time(), time.perf_counter(), event.value, response)

    @handler("response")
    def _on_response(self, request: Request, response: Response) -> None:
        if not self.logger.isEnabledFor(self.level):
            return
        record = self.record(request, response)
        self.logger.log(self.level, self._formatter(record), extra={"access": record})

    @handler("bad_request")
    def _on_bad_request(
        self, sock: Connection, status: int, reason: str, request_line: bytes | None
    ) -> None:
        # relays-http refused a request before any handler saw it: one line too, with
        # what is known (the request line only when its head had been parsed).
        if not self.logger.isEnabledFor(self.level):
            return
        method = target = protocol = ""
        if request_line:
            parts = request_line.decode("latin-1").split(" ", 2)
            if len(parts) == 3:
                method, target, protocol = parts
        remote = _host(sock.peer)
        record = AccessRecord(
            remote=remote,
            time=time.time(),
            method=method,
            target=target,
            protocol=protocol,
            status=status,
            size=None,
            referer=None,
            user_agent=None,
            duration_us=0,
            peer=remote,
        )
        self.logger.log(self.level, self._formatter(record), extra={"access": record})

    def record(self, request: Request, response: Response) -> AccessRecord:
        """The :class:`AccessRecord` of *request* answered with *response*."""
        notes = request.context.get(_CONTEXT_KEY)
        if notes is None:  # dispatched before we were registered
            started, duration_us, value, original = time.time(), 0, None, None
        else:
            started, counter, value, original = notes
            duration_us = int((time.perf_counter() - counter) * 1_000_000)
        received_at = request.received_at
        if received_at is not None:
            try:
                elapsed = asyncio.get_running_loop().time() - received_at
            except RuntimeError:  # called outside the loop: keep the dispatch times
                pass
            else:
                duration_us = int(elapsed * 1_000_000)
                started = time.time() - elapsed
        size = response.bytes_sent
        if size is None:
            size = _body_size(request, response, value, original)
        remote = _host(request.remote)
        # relays_http.TrustedProxies keeps what the connection said under "proxy".
        proxy = request.context.get("proxy")
        peer = _host(proxy.get("remote")) if isinstance(proxy, dict) else remote
        return AccessRecord(
            remote=remote,
            time=started,
            method=request.method,
            target=request.target,
            protocol=f"HTTP/{request.http_version}",
            status=response.status,
            size=size,
            referer=request.header(b"referer"),
            user_agent=request.header(b"user-agent"),
            duration_us=duration_us,
            peer=peer,
        )


def _host(remote: Any) -> str | None:
    if isinstance(remote, tuple) and remote:
        return str(remote[0])
    if isinstance(remote, str) and remote:
        return remote
    return None


def _body_size(
    request: Request, response: Response, value: Value | None, original: Response | None
) -> int | None:
    """The body bytes sent, when they can be known; see the theory of operation."""
    status = response.status
    if request.method == "HEAD" or status in (204, 304) or status < 200:
        return None
    declared = response.headers.get("content-length")
    if declared is not None and declared.isdigit():
        return int(declared)
    if value is None or value.errors or not value.done:
        return None
    results = value.results
    result = results[0] if results else None
    if isinstance(result, Response):
        if result is not response:
            return None  # an error page took its place
        return _size_of(result.body)
    if response is not original:
        return None  # an error page (404, an HTTPError, a failed encoding)
    return _size_of(result)


def _size_of(body: Any) -> int | None:
    if body is None:
        return 0
    if isinstance(body, str):
        return len(body.encode("utf-8"))
    if isinstance(body, bytes | bytearray | memoryview):
        return len(body)
    if isinstance(body, dict):
        try:
            encoded = json.dumps(body, separators=(",", ":"), ensure_ascii=False)
        except (TypeError, ValueError):
            return None
        return len(encoded.encode("utf-8"))
    return None
