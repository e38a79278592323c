"""The WSGI Gateway: PEP 3333 applications mounted at path prefixes, run in threads.

Theory of operation
-------------------
A WSGI application is blocking code, so it never runs on the event loop: each
request is one job in the gateway's :class:`~concurrent.futures.ThreadPoolExecutor`.
The job calls the application, iterates its result and sends what happens to the
loop as messages on a deque, via ``call_soon_threadsafe``:
``("head", status, headers)`` once the first body bytes exist (PEP 3333: headers
go out with the first non-empty chunk, or at the end), then ``("data", bytes)``
per chunk, then ``("end",)`` or ``("error", exception)``. A list or tuple of one
chunk is known to be the whole answer: its chunk and the end are posted in one loop
callback, so the loop always sees it whole. A generator's chunks go out as they come.

Backpressure. The job takes a slot of a :class:`threading.Semaphore` before each
data message and the loop side gives it back once it has written the chunk, so
at most ``buffered_chunks`` chunks wait in memory, and a slow client slows the
application rather than filling memory.

Answer. The ``request`` handler waits for the head. When the end came with the
first chunk, the body is sent whole (with Content-Length); otherwise the
response streams from an async iterator. When the client goes away, closing that
iterator marks the job cancelled and frees its slots, so the job stops iterating
and calls the result's ``close()`` (always called, as PEP 3333 requires).

Errors. An exception before the head was sent is the request's failure (a 500
page without details unless debug). After it, the stream is cut short.
``start_response``'s rules (the status and header checks, ``exc_info`` replacing the
head until it is sent and re-raising after) are :class:`~relays_http.WSGIResponseHead`'s,
shared with relays-resources' ``WSGIResource``.
"""

from __future__ import annotations

import asyncio
import io
import logging
import threading
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from relays import BaseComponent, Event, Priority, handler

from ._request import Request
from ._response import Response
from ._wsgi_head import WSGIResponseHead

__all__ = ["Gateway", "WSGIApp", "build_environ"]

logger = logging.getLogger("relays.http.wsgi")

#: A PEP 3333 application.
WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]

#: Response fields a WSGI application may not set (PEP 3333: hop-by-hop ones).
HOP_BY_HOP = frozenset(
    (
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "trailers",
        "transfer-encoding",
        "upgrade",
    )
)


class _ErrorStream(io.TextIOBase):
    """``wsgi.errors``: what an application writes goes to the ``relays.http.wsgi`` log."""

    def write(self, text: str) -> int:
        text = str(text)
        if text.strip():
            logger.error("%s", text.rstrip("\n"))
        return len(text)

    def writelines(self, lines: Iterable[str]) -> None:  # type: ignore[override]
        for line in lines:
            self.write(line)

    def flush(self) -> None:
        pass


def build_environ(
    request: Request, *, script_name: str = "", path_info: str | None = None
) -> dict[str, Any]:
    """The PEP 3333 ``environ`` of *request*, mounted at *script_name*.

    When the request was rewritten (:meth:`Request.rewrite
    <relays_http.Request.rewrite>`, by :class:`~relays_http.VirtualHosts`) and the
    client's own path ends with the ``PATH_INFO``, ``SCRIPT_NAME`` is the part of
    the client's path before it: the application sees the URL space the client does.

    Header fields become ``HTTP_*`` keys; a field whose name holds ``_`` is left
    out (it would be indistinguishable from one with ``-``: a classic way to
    smuggle ``HTTP_X_USER`` past a proxy). Repeated fields are joined with ``,``
    (``;`` for Cookie).
    """
    if path_info is None:
        path_info = request.path[len(script_name) :]
        original = request.original_path
        if original != request.path and original.endswith(path_info):
            # The request was rewritten (a virtual host's prefix): the application is
            # mounted where the client sees it, so its links (url_for) are right.
            script_name = original[: len(original) - len(path_info)]
            if not path_info and script_name.endswith("/"):
                script_name, path_info = script_name[:-1], "/"
    host, _, port = request.host.rpartition(":")
    if not host or not port.isdigit():
        host, port = request.host, "443" if request.scheme == "https" else "80"
    remote = request.remote
    environ: dict[str, Any] = {
        "REQUEST_METHOD": request.method,
        "SCRIPT_NAME": script_name,
        "PATH_INFO": path_info,
        "QUERY_STRING": request.query_string,
        "SERVER_NAME": host.strip("[]"),
        "SERVER_PORT": port,
        "SERVER_PROTOCOL": f"HTTP/{request.http_version}",
        "REMOTE_ADDR": str(remote[0]) if isinstance(remote, tuple) else "",
        "REMOTE_PORT": str(remote[1]) if isinstance(remote, tuple) and len(remote) > 1 else "",
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": request.scheme,
        "wsgi.input": request.body,
        "wsgi.errors": _ErrorStream(),
        "wsgi.multithread": True,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
        "CONTENT_LENGTH": str(request.content_length),
    }
    for name, value in request.headers.allitems():
        if "_" in name:
            continue
        key = name.upper().replace("-", "_")
        if key == "CONTENT_TYPE":
            environ["CONTENT_TYPE"] = value
            continue
        if key == "CONTENT_LENGTH":
            continue  # the body's real size, set above
        key = "HTTP_" + key
        if key in environ:
            environ[key] += ("; " if key == "HTTP_COOKIE" else ",") + value
        else:
            environ[key] = value
    return environ


class _Job:
    """One request's run of a WSGI application, shared by its thread and the loop."""

    def __init__(self, loop: asyncio.AbstractEventLoop, buffered_chunks: int) -> None:
        self.loop = loop
        self.messages: deque[tuple[Any, ...]] = deque()
        self.arrived = asyncio.Event()
        self.slots = threading.Semaphore(buffered_chunks)
        self.buffered_chunks = buffered_chunks
        self.cancelled = False
        self.head = WSGIResponseHead(self.write)

    # -- the thread's side -----------------------------------------------------------

    def post(self, *messages: tuple[Any, ...]) -> None:
        """Send *messages* to the loop, which takes them in one callback."""
        if self.cancelled:
            raise _Cancelled
        try:
            self.loop.call_soon_threadsafe(self._arrive, messages)
        except RuntimeError:  # the loop is closed: nobody is listening any more
            self.cancelled = True
            raise _Cancelled from None

    def send_head(self) -> None:
        """Post the head, the first time the body's first chunk (or its end) is there."""
        head = self.head.take()
        if head is not None:
            self.post(("head", *head))

    def write(self, data: bytes, *then: tuple[Any, ...]) -> None:
        """Post *data* (the application's ``write``), and the *then* messages with it."""
        if not isinstance(data, bytes):
            raise TypeError(f"a WSGI application must write bytes, not {type(data).__name__}")
        if data:
            self.send_head()
            while not self.slots.acquire(timeout=0.5):
                if self.cancelled:
                    raise _Cancelled
            self.post(("data", data), *then)
        elif then:
            self.send_head()
            self.post(*then)

    def run(self, app: WSGIApp, environ: dict[str, Any]) -> None:
        try:
            result = app(environ, self.head.start_response)
            if (
                isinstance(result, list | tuple)
                and len(result) == 1
                and getattr(result, "close", None) is None
            ):
                # Known to be the whole answer (and nothing to close): the chunk and the
                # end go in one loop callback, so the loop always sends it whole.
                self.write(result[0], ("end",))
                return
            try:
                for chunk in result:
                    self.write(chunk)
                self.send_head()
            finally:
                close = getattr(result, "close", None)
                if close is not None:
                    close()
            self.post(("end",))
        except _Cancelled:
            return
        except BaseException as error:
            if not self.cancelled:
                self.post(("error", error))

    # -- the loop's side -------------------------------------------------------------

    def cancel(self) -> None:
        self.cancelled = True
        for _ in range(self.buffered_chunks):
            self.slots.release()

    def _arrive(self, messages: tuple[tuple[Any, ...], ...]) -> None:
        self.messages.extend(messages)
        self.arrived.set()

    async def next(self) -> tuple[Any, ...]:
        """The next message; an ``error`` one is raised."""
        while not self.messages:
            self.arrived.clear()
            await self.arrived.wait()
        message = self.messages.popleft()
        if message[0] == "error":
            raise message[1]
        return message

    async def body(self, first: bytes) -> AsyncIterator[bytes]:
        try:
            yield first
            while True:
                message = await self.next()
                if message[0] == "end":
                    return
                yield message[1]
                self.slots.release()
        finally:
            self.cancel()


class _Cancelled(Exception):
    """The loop side stopped listening: the job ends quietly."""


class Gateway(BaseComponent):
    """Serve WSGI applications at path prefixes: ``Gateway({"/legacy": flask_app})``.

    A request whose path is a mounted prefix (or below it) goes to that
    application, with the prefix as ``SCRIPT_NAME``; the longest prefix wins.
    Applications run in a pool of *workers* threads; a streaming response holds
    its thread until it is done, and at most *buffered_chunks* of its chunks wait
    in memory. The gateway listens at *priority* ``Priority.DISPATCH``, above the
    :class:`~relays_http.Dispatcher`.
    """

    channel = "web"

    def __init__(
        self,
        apps: Mapping[str, WSGIApp] | None = None,
        *,
        channel: Any = "web",
        workers: int = 16,
        buffered_chunks: int = 8,
    ) -> None:
        super().__init__(channel=channel)
        if buffered_chunks < 1:
            raise ValueError("buffered_chunks must be at least 1")
        self.apps: dict[str, WSGIApp] = {}
        for path, app in (apps or {}).items():
            self.mount(path, app)
        self.workers = workers
        self.buffered_chunks = buffered_chunks
        self._executor: ThreadPoolExecutor | None = None

    def mount(self, path: str, app: WSGIApp) -> None:
        """Serve *app* at *path* (``"/"`` for everything)."""
        if not path.startswith("/"):
            raise ValueError(f"a mount path starts with '/', not {path!r}")
        if not callable(app):
            raise TypeError(f"a WSGI application is callable, not {app!r}")
        self.apps[path.rstrip("/")] = app

    @property
    def executor(self) -> ThreadPoolExecutor:
        if self._executor is None:
            self._executor = ThreadPoolExecutor(self.workers, thread_name_prefix="relays-wsgi")
        return self._executor

    def find(self, path: str) -> tuple[str, WSGIApp] | None:
        """The longest mount prefix of *path* and its application."""
        apps = self.apps
        candidate = path.rstrip("/")
        while True:
            app = apps.get(candidate)
            if app is not None:
                return candidate, app
            if not candidate:
                return None
            candidate = candidate.rpartition("/")[0]

    @handler("request", priority=Priority.DISPATCH)
    def _on_request(self, event: Event, request: Request, response: Response) -> Any:
        found = self.find(request.path)
        if found is None:
            return None
        event.stop()
        script_name, app = found
        return self.fire(_Serve(app, script_name, request, response), self)

    @handler("wsgi_serve")
    async def _serve(
        self, app: WSGIApp, script_name: str, request: Request, response: Response
    ) -> Any:
        job = _Job(asyncio.get_running_loop(), self.buffered_chunks)
        self.executor.submit(job.run, app, environ=build_environ(request, script_name=script_name))
        try:
            _, status, headers = await job.next()
            response.status = int(status[:3])
            response.reason = status[4:].strip()
            fields = response.headers
            length = None
            for name, value in headers:
                lower = name.lower()
                if lower == "content-length":
                    length = value
                elif lower not in HOP_BY_HOP:
                    fields.add(name, value)
            message = await job.next()
            if message[0] == "end":
                if length is not None and request.method == "HEAD":
                    # The length GET would send, as the app said (RFC 9110 9.3.2).
                    fields["content-length"] = length
                response.body = b""
                return response
            first: bytes = message[1]
            job.slots.release()
            # A short answer is often complete already: then send it whole, framed by
            # its length, instead of chunked.
            if job.messages and job.messages[0][0] == "end":
                job.cancel()
                response.body = first
                return response
        except BaseException:
            job.cancel()
            raise
        if length is not None:
            fields["content-length"] = length  # honoured and enforced by the server
        response.body = job.body(first)
        return response

    @handler("stopped", channel="*")
    def _on_stopped(self, component: BaseComponent) -> None:
        if component is self.root and self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
            self._executor = None


class _Serve(Event):
    """``wsgi_serve(app, script_name, request, response)``, fired at the gateway."""

    name = "wsgi_serve"
