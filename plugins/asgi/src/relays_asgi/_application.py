"""``application(tree)``: a relays tree as an ASGI app, for uvicorn, hypercorn, granian.

Theory of operation
-------------------
The ASGI server owns the event loop and the sockets; the relays tree runs on the
server's loop (``async with tree``-style, started by the ``lifespan`` startup, or by
the first request when the server does not speak lifespan) and is stopped by the
``lifespan`` shutdown. Each ``http`` call is one request cycle, as relays-http's own
connection runs it:

1. the body is received whole (``more_body`` messages joined, spooled to a temporary
   file past ``limits.spool_threshold``, a 413 past ``limits.max_body_size``) and a
   :class:`~relays_http.Request` is made from the scope;
2. ``before_request`` is fired and waited for while something listens for it (relays-sessions
   loads the session there); an answer from it skips ``request``;
3. ``request(request, response)`` is fired and waited for (at most *timeout* seconds:
   then a 503); the first answer wins, as in the server;
4. ``before_response`` is fired and waited for while something listens (sessions
   write their cookie); a value from it replaces the answer;
5. the answer is sent as ASGI messages: text, bytes and JSON whole, with a
   Content-Length; iterators and async iterators streamed, one ``http.response.body``
   per chunk (the server's ``send`` is the backpressure); ``None`` a 404,
   :class:`~relays_http.HTTPError` its page, an exception a 500 page without details
   (logged) unless *debug*;
6. ``response(request, response)`` is fired (and waited for) once the body was
   handed to the server, while something listens for it, so access logs see every
   request.

A ``websocket`` scope is a handshake ``request`` like any other: when the tree
answers it by switching to WebSocket (relays-websocket's ``WebSockets``, or a
controller's ``upgrade``), the app accepts and the relays WebSocket talks through
ASGI messages (see :mod:`relays_asgi._tree_websocket`); any other answer closes it
before accepting, which the client sees as a 403.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator, Iterator
from functools import partial
from typing import IO, Any

from relays import BaseComponent
from relays_http import (
    BeforeRequestEvent,
    BeforeResponseEvent,
    HTTPError,
    Limits,
    NotFound,
    Request,
    RequestEvent,
    Response,
    ResponseEvent,
    ServiceUnavailable,
    SpooledBody,
    SwitchProtocols,
    chunk_bytes,
    error_response,
    response_fields,
)

from ._shape import Receive, Scope, Send
from ._tree_websocket import handshake_headers, serve_switch

__all__ = ["RelaysApplication", "application"]

logger = logging.getLogger("relays.asgi")

_HTML = "text/html; charset=utf-8"
_JSON = "application/json"
_OCTETS = "application/octet-stream"


def application(
    tree: BaseComponent,
    *,
    channel: Any = "web",
    timeout: float = 60.0,
    limits: Limits | None = None,
    debug: bool = False,
) -> RelaysApplication:
    """*tree* (a relays-http dispatcher and what it serves) as an ASGI 3 application.

    ``app = application(Dispatcher() + Root())``, then ``uvicorn module:app``. Requests
    are fired as ``request`` events on *channel*; *timeout* bounds the wait for an
    answer (503 after it); bodies over ``limits.max_body_size`` get a 413; *debug*
    puts tracebacks into 500 pages.
    """
    return RelaysApplication(tree, channel=channel, timeout=timeout, limits=limits, debug=debug)


class RelaysApplication:
    """The ASGI app :func:`application` makes; owns the tree's running state."""

    def __init__(
        self,
        tree: BaseComponent,
        *,
        channel: Any = "web",
        timeout: float = 60.0,
        limits: Limits | None = None,
        debug: bool = False,
    ) -> None:
        if tree.parent is not None:
            raise ValueError(f"application() takes the root of a tree; {tree!r} has a parent")
        #: The relays tree answering the requests.
        self.tree = tree
        self.channel = channel
        self.timeout = timeout
        self.limits = limits if limits is not None else Limits()
        self.debug = debug
        self._starting: asyncio.Lock | None = None
        self._started_here = False

    def __repr__(self) -> str:
        return f"<relays application {self.tree!r}>"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "http":
            await self._http(scope, receive, send)
        elif kind == "lifespan":
            await self._lifespan(receive, send)
        elif kind == "websocket":
            await self._websocket(scope, receive, send)
        else:
            raise ValueError(f"a relays application serves http and lifespan scopes, not {kind!r}")

    # -- lifespan --------------------------------------------------------------------

    async def _ensure_running(self) -> None:
        if self.tree.running:
            return
        if self._starting is None:
            self._starting = asyncio.Lock()
        async with self._starting:
            if not self.tree.running:
                await self.tree.__aenter__()
                self._started_here = True

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    await self._ensure_running()
                except Exception as error:
                    await send({"type": "lifespan.startup.failed", "message": str(error)})
                    return
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                try:
                    if self._started_here and self.tree.running:
                        await self.tree.__aexit__(None, None, None)
                except Exception as error:
                    await send({"type": "lifespan.shutdown.failed", "message": str(error)})
                    return
                await send({"type": "lifespan.shutdown.complete"})
                return

    # -- websocket -------------------------------------------------------------------

    async def _websocket(self, scope: Scope, receive: Receive, send: Send) -> None:
        connect = await receive()
        if connect["type"] != "websocket.connect":
            return
        await self._ensure_running()
        target = scope.get("raw_path") or scope["path"].encode("utf-8")
        if scope.get("query_string"):
            target += b"?" + scope["query_string"]
        client, server = scope.get("client"), scope.get("server")
        request = Request(
            "GET",
            target.decode("latin-1"),
            http_version=scope.get("http_version", "1.1"),
            headers=handshake_headers(scope),
            remote=tuple(client) if client else None,
            local=tuple(server) if server else None,
            scheme="https" if scope.get("scheme") == "wss" else "http",
            limits=self.limits,
        )
        try:
            result, failed = await self._answer(request, Response())
            if isinstance(result, Response):
                result = result.body
            if (
                not failed
                and isinstance(result, SwitchProtocols)
                and str(result.protocol).lower() == "websocket"
            ):
                await serve_switch(result, request, receive, send)
            else:
                # Not a WebSocket of the tree's (a refusal, a page, nothing): a 403.
                await send({"type": "websocket.close", "code": 1008})
        finally:
            request.close()

    # -- http ------------------------------------------------------------------------

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = Response()
        try:
            request = await self._request(scope, receive)
        except HTTPError as refused:
            await self._send_error(None, response, refused, send)
            return
        try:
            await self._ensure_running()
            result, failed = await self._answer(request, response)
            if failed:
                await self._send_error(request, response, result, send, reported=True)
            else:
                response = await self._send_result(request, response, result, send)
            if self.tree.handlers("response"):
                # Waited for, so the access log has its line when the server's call ends.
                with contextlib.suppress(Exception):  # reported by the kernel already
                    await self.tree.fire(ResponseEvent(request, response), self.channel)
        finally:
            request.close()

    async def _request(self, scope: Scope, receive: Receive) -> Request:
        target = scope.get("raw_path") or scope["path"].encode("utf-8")
        query = scope.get("query_string", b"")
        if query:
            target += b"?" + query
        client = scope.get("client")
        server = scope.get("server")
        return Request(
            scope["method"],
            target.decode("latin-1"),
            http_version=scope.get("http_version", "1.1"),
            headers=[(bytes(name), bytes(value)) for name, value in scope["headers"]],
            body=await self._body(receive),
            remote=tuple(client) if client else None,
            local=tuple(server) if server else None,
            scheme=scope.get("scheme", "http"),
            limits=self.limits,
        )

    async def _body(self, receive: Receive) -> bytes | IO[bytes]:
        body = SpooledBody(self.limits)
        try:
            while True:
                message = await receive()
                if message["type"] == "http.disconnect":
                    raise HTTPError(400, "the client went away while sending its request")
                body.add(message.get("body", b""))
                if not message.get("more_body", False):
                    return body.result()
        except BaseException:
            body.discard()
            raise

    async def _answer(self, request: Request, response: Response) -> tuple[Any, bool]:
        """Run the cycle's events; the answer, and whether it is a handler's failure."""
        tree, channel = self.tree, self.channel
        try:
            async with asyncio.timeout(self.timeout):
                result: Any = None
                failed = False
                answered = False
                if tree.handlers("before_request"):
                    prepared = tree.fire(BeforeRequestEvent(request, response), channel)
                    result, failed, answered = await _settle(prepared)
                if not answered:
                    value = tree.fire(RequestEvent(request, response), channel)
                    result, failed, _ = await _settle(value)
                if tree.handlers("before_response"):
                    hook = tree.fire(BeforeResponseEvent(request, response, result), channel)
                    replaced, hook_failed, replaced_it = await _settle(hook)
                    if hook_failed:
                        return replaced, True
                    if replaced_it:
                        result, failed = replaced, False
                return result, failed
        except TimeoutError:
            return ServiceUnavailable("the application did not answer in time"), False

    async def _send_result(
        self, request: Request, response: Response, result: Any, send: Send
    ) -> Response:
        """Send *result* as the handlers' answer; the :class:`Response` that was sent."""
        if result is None:
            await self._send_error(request, response, NotFound(), send)
            return response
        if isinstance(result, HTTPError):
            await self._send_error(request, response, result, send)
            return response
        if isinstance(result, Response):
            response, result = result, result.body
        try:
            body, content_type, stream = _encode(result)
        except (TypeError, ValueError) as error:
            await self._send_error(request, response, error, send)
            return response
        fields = _fields(response, content_type)
        if stream is None:
            if response.status in (204, 304):
                body = b""
            elif not any(name == b"content-length" for name, _ in fields):
                fields.append((b"content-length", str(len(body)).encode()))
            await send(_start(response, fields))
            if request.method == "HEAD":
                body = b""
            await send({"type": "http.response.body", "body": body})
            response.bytes_sent = len(body)
            return response
        await send(_start(response, fields))
        sent = 0
        try:
            async for chunk in stream:
                if chunk and request.method != "HEAD":
                    await send({"type": "http.response.body", "body": chunk, "more_body": True})
                    sent += len(chunk)
        except OSError:
            return response  # the client went away: an aborted download
        except Exception:
            # The head is gone already: the server closes the connection without the
            # end of the body, which the client sees as an incomplete response.
            logger.exception("streaming the response body of %r failed", request)
            raise
        finally:
            await _close(result)
        await send({"type": "http.response.body", "body": b""})
        response.bytes_sent = sent
        return response

    async def _send_error(
        self,
        request: Request | None,
        response: Response,
        error: BaseException,
        send: Send,
        *,
        reported: bool = False,
    ) -> None:
        page = error_response(
            error,
            response,
            accept=request.headers.get("accept") if request is not None else None,
            debug=self.debug,
            report=None if reported else partial(_report_failure, request),
        )
        body = page.body
        fields = _fields(page, None)
        fields.append((b"content-length", str(len(body)).encode()))
        await send(_start(page, fields))
        head_only = request is not None and request.method == "HEAD"
        await send({"type": "http.response.body", "body": b"" if head_only else body})


def _report_failure(request: Request | None, trace: str) -> None:
    logger.error("request handler failed for %r:\n%s", request, trace)


async def _settle(value: Any) -> tuple[Any, bool, bool]:
    """``(result, failed, answered)`` of a fired event's value, once its handlers ran."""
    try:
        await value
    except Exception as error:  # a handler raised: the kernel reported it
        if isinstance(error, HTTPError):
            return error, False, True
        return error, True, True
    results = value.results
    if not results:
        return None, False, False
    return results[0], False, True


def _encode(result: Any) -> tuple[bytes, str | None, AsyncIterator[bytes] | None]:
    """``(body, content type, stream)``: a whole body, or a stream of chunks."""
    if isinstance(result, str):
        return result.encode("utf-8"), _HTML, None
    if isinstance(result, bytes | bytearray | memoryview):
        return bytes(result), _OCTETS, None
    if isinstance(result, dict | list):
        data = json.dumps(result, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
        return data, _JSON, None
    if hasattr(result, "__aiter__"):
        return b"", _OCTETS, _chunks_of_async(result)
    if hasattr(result, "__iter__"):
        return b"", _OCTETS, _chunks_of(iter(result))
    raise TypeError(
        f"a request handler returned {type(result).__name__}; return str, bytes, a dict or"
        " list (JSON), an iterator or async iterator, a Response or an HTTPError"
    )


async def _chunks_of_async(iterator: Any) -> AsyncIterator[bytes]:
    async for chunk in iterator:
        yield chunk_bytes(chunk)


async def _chunks_of(iterator: Iterator[Any]) -> AsyncIterator[bytes]:
    for chunk in iterator:
        yield chunk_bytes(chunk)


async def _close(body: Any) -> None:
    aclose = getattr(body, "aclose", None)
    if aclose is not None:
        await aclose()
        return
    close = getattr(body, "close", None)
    if close is not None:
        close()


def _fields(response: Response, content_type: str | None) -> list[tuple[bytes, bytes]]:
    """The response's fields as ASGI wants them: lower-case names, bytes."""
    return [
        (name.lower().encode("latin-1"), value.encode("latin-1"))
        for name, value in response_fields(response, content_type)
    ]


def _start(response: Response, fields: list[tuple[bytes, bytes]]) -> dict[str, Any]:
    return {"type": "http.response.start", "status": response.status, "headers": fields}
