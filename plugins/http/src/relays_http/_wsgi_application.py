"""``Application``: a relays component tree as a PEP 3333 callable, for any WSGI server.

Theory of operation
-------------------
A WSGI server calls the application on its own threads; a relays tree runs on one
event loop. So the tree runs in a background thread (:meth:`~relays.BaseComponent.start`,
on the first call, which after a pre-forking server's fork is in the worker that
serves), and each call turns the ``environ`` into a :class:`~relays_http.Request`,
fires ``request(request, response)`` on the tree from the WSGI thread and blocks on
the event's :meth:`~relays.Value.get` (at most ``timeout`` seconds, then a 503).

The answer is turned into status, headers and an iterable the way the HTTP server
turns it into bytes: text and bytes whole, dicts and lists as JSON, iterators
passed through, async iterators pulled chunk by chunk on the tree's loop (each
chunk a ``wsgi_next_chunk`` event), HTTP errors as error pages, any other exception
as a 500 page that shows no details unless *debug*. ``response`` events fire once
the WSGI server has taken the whole body, so access logs work the same.
"""

from __future__ import annotations

import json
import logging
import tempfile
import threading
from collections.abc import Callable, Iterable, Iterator
from functools import partial
from typing import IO, Any
from urllib.parse import quote

from relays import BaseComponent, Event, handler

from ._bodies import SpooledBody, chunk_bytes
from ._errors import (
    HTTPError,
    NotFound,
    PayloadTooLarge,
    ServiceUnavailable,
    error_response,
)
from ._limits import Limits
from ._request import Request
from ._response import Response
from ._response_fields import response_fields
from .events import RequestEvent, ResponseEvent

__all__ = ["Application"]

logger = logging.getLogger("relays.http.wsgi")

_END: Any = object()


class _NextChunk(Event):
    """``wsgi_next_chunk(iterator)``: pull one chunk of an async body on the loop."""

    name = "wsgi_next_chunk"


class Application(BaseComponent):
    """A relays tree as a WSGI application: ``app = Application() + Dispatcher() + Root()``.

    Register the components that answer ``request`` events (a
    :class:`~relays_http.Dispatcher` and controllers, or plain handlers) under it,
    then point gunicorn (or any PEP 3333 server) at it. *timeout* bounds the wait
    for an answer (503 after it); bodies over ``limits.max_body_size`` get a 413;
    *debug* puts tracebacks into 500 pages.
    """

    channel = "web"

    def __init__(
        self,
        *,
        channel: Any = "web",
        timeout: float = 60.0,
        limits: Limits | None = None,
        debug: bool = False,
    ) -> None:
        super().__init__(channel=channel)
        self.timeout = timeout
        self.limits = limits if limits is not None else Limits()
        self.debug = debug
        self._starting = threading.Lock()

    # -- the WSGI side ---------------------------------------------------------------

    def __call__(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        if not self.running:
            self._start()
        try:
            request = self._request(environ)
        except HTTPError as refused:
            return self._error_page(None, Response(), refused, start_response, environ)
        response = Response()
        value = self.fire(RequestEvent(request, response))
        try:
            value.get(self.timeout)
        except TimeoutError:
            late = ServiceUnavailable("the application did not answer in time")
            return self._error_page(request, response, late, start_response, environ)
        except Exception as failure:  # reported by the kernel as an exception event
            return self._error_page(
                request, response, failure, start_response, environ, reported=True
            )
        results = value.results  # the first answer wins, as in the HTTP server
        result = results[0] if results else None
        try:
            return self._answer(request, response, result, start_response, environ)
        except HTTPError as failure:
            return self._error_page(request, response, failure, start_response, environ)

    def _start(self) -> None:
        with self._starting:
            if not self.running:
                self.start()

    def close(self) -> None:
        """Stop the tree's background thread (a WSGI server's worker exit hook)."""
        self.stop()

    def _request(self, environ: dict[str, Any]) -> Request:
        path = quote(
            (environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", "")).encode("latin-1"),
            safe="/;=,:@!$&'()*+~",
        )
        query = environ.get("QUERY_STRING", "")
        raw: list[tuple[bytes, bytes]] = []
        for key, value in environ.items():
            if key.startswith("HTTP_"):
                name = key[5:].replace("_", "-").lower()
            elif key in ("CONTENT_TYPE", "CONTENT_LENGTH"):
                name = key.replace("_", "-").lower()
            else:
                continue
            if value:
                raw.append((name.encode("latin-1"), str(value).encode("latin-1")))
        remote_port = environ.get("REMOTE_PORT", "")
        return Request(
            environ.get("REQUEST_METHOD", "GET"),
            path + ("?" + query if query else ""),
            http_version=environ.get("SERVER_PROTOCOL", "HTTP/1.1").rpartition("/")[2],
            headers=raw,
            body=self._body(environ),
            remote=(
                environ.get("REMOTE_ADDR", ""),
                int(remote_port) if str(remote_port).isdigit() else 0,
            ),
            local=(environ.get("SERVER_NAME", ""), int(environ.get("SERVER_PORT", 0) or 0)),
            scheme=environ.get("wsgi.url_scheme", "http"),
            limits=self.limits,
        )

    def _body(self, environ: dict[str, Any]) -> bytes | IO[bytes]:
        length_text = environ.get("CONTENT_LENGTH") or ""
        if not length_text and environ.get("wsgi.input_terminated"):
            # A body without a length (chunked, as gunicorn passes it): the server
            # promises wsgi.input ends at the body's end, so read up to there.
            return self._body_to_end(environ["wsgi.input"])
        try:
            length = int(length_text or "0")
        except ValueError:
            length = 0
        limits = self.limits
        if length > limits.max_body_size:
            raise PayloadTooLarge(f"the request body is larger than {limits.max_body_size} bytes")
        if length <= 0:
            return b""
        stream = environ["wsgi.input"]
        if length <= limits.spool_threshold:
            return bytes(stream.read(length))
        spool = tempfile.TemporaryFile()  # noqa: SIM115 - closed with the request
        remaining = length
        while remaining:
            block = stream.read(min(remaining, 64 * 1024))
            if not block:
                break
            spool.write(block)
            remaining -= len(block)
        spool.seek(0)
        return spool

    def _body_to_end(self, stream: IO[bytes]) -> bytes | IO[bytes]:
        """All of a ``wsgi.input_terminated`` stream, spooled past the threshold;
        a 413 as soon as it passes ``limits.max_body_size``."""
        body = SpooledBody(self.limits)
        try:
            while block := stream.read(64 * 1024):
                body.add(block)
        except BaseException:
            body.discard()
            raise
        return body.result()

    def _answer(
        self,
        request: Request,
        response: Response,
        result: Any,
        start_response: Callable[..., Any],
        environ: dict[str, Any],
    ) -> Iterable[bytes]:
        if result is None:
            return self._error_page(request, response, NotFound(), start_response, environ)
        if isinstance(result, HTTPError):
            return self._error_page(request, response, result, start_response, environ)
        if isinstance(result, Response):
            response = result
            result = result.body
        if result is None:
            body: Any = b""
            content_type = None
        elif isinstance(result, str):
            body, content_type = result.encode("utf-8"), "text/html; charset=utf-8"
        elif isinstance(result, bytes | bytearray | memoryview):
            body, content_type = bytes(result), "application/octet-stream"
        elif isinstance(result, dict | list):
            body = json.dumps(result, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
            content_type = "application/json"
        elif isinstance(result, HTTPError):
            return self._error_page(request, response, result, start_response, environ)
        elif hasattr(result, "__aiter__"):
            body, content_type = self._pull(result), "application/octet-stream"
        elif hasattr(result, "__iter__"):
            body, content_type = _encoded(result), "application/octet-stream"
        else:
            error = TypeError(f"a request handler returned {type(result).__name__}")
            return self._error_page(request, response, error, start_response, environ)
        headers = response_fields(response, content_type)
        if isinstance(body, bytes):
            if response.status not in (204, 304):
                headers.append(("content-length", str(len(body))))
            body = [body]
        start_response(_status(response), headers)
        return _Finished(body, lambda: self._finished(request, response))

    def _error_page(
        self,
        request: Request | None,
        response: Response,
        error: BaseException,
        start_response: Callable[..., Any],
        environ: dict[str, Any],
        *,
        reported: bool = False,
    ) -> Iterable[bytes]:
        page = error_response(
            error,
            response,
            accept=environ.get("HTTP_ACCEPT"),
            debug=self.debug,
            report=None if reported else partial(_report_failure, request),
        )
        body = page.body
        headers = response_fields(page)
        headers.append(("content-length", str(len(body))))
        start_response(_status(page), headers)
        if request is None:
            return [body]
        return _Finished([body], lambda: self._finished(request, page))

    def _pull(self, iterator: Any) -> Iterator[bytes]:
        """Chunks of an async iterator, each pulled on the tree's loop."""
        try:
            while True:
                chunk = self.fire(_NextChunk(iterator), self).get(self.timeout)
                if chunk is _END:
                    return
                yield chunk_bytes(chunk)
        finally:
            if hasattr(iterator, "aclose"):
                self.fire(_NextChunk(iterator, close=True), self)

    def _finished(self, request: Request, response: Response) -> None:
        request.close()
        self.fire(ResponseEvent(request, response))

    # -- the loop side ---------------------------------------------------------------

    @handler("wsgi_next_chunk")
    async def _next_chunk(self, iterator: Any, close: bool = False) -> Any:
        if close:
            await iterator.aclose()
            return None
        try:
            return await iterator.__anext__()
        except StopAsyncIteration:
            return _END


class _Finished:
    """The body iterable; its ``close()`` (PEP 3333) closes the body and reports."""

    def __init__(self, body: Iterable[bytes], finished: Callable[[], None]) -> None:
        self._body = body
        self._finished = finished

    def __iter__(self) -> Iterator[bytes]:
        return iter(self._body)

    def close(self) -> None:
        try:
            close = getattr(self._body, "close", None)
            if close is not None:
                close()
        finally:
            self._finished()


def _report_failure(request: Request | None, trace: str) -> None:
    logger.error("request handler failed for %r:\n%s", request, trace)


def _status(response: Response) -> str:
    from http import HTTPStatus

    reason = response.reason
    if not reason:
        try:
            reason = HTTPStatus(response.status).phrase
        except ValueError:
            reason = "Unknown"
    return f"{response.status} {reason}"


def _encoded(iterable: Any) -> Iterator[bytes]:
    try:
        for chunk in iterable:
            yield chunk_bytes(chunk)
    finally:
        close = getattr(iterable, "close", None)
        if close is not None:
            close()
