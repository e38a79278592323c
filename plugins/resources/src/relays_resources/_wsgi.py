"""``WSGIResource``: a WSGI application as a leaf of the tree.

Theory of operation
-------------------
A WSGI application blocks, so it runs on the tree's thread pool (the pool of
``@handler(thread=True)`` handlers, :func:`relays.in_thread`, sized by the root's
``handler_threads`` or ``relays serve --threads N``), never on the loop. Like
Twisted's threadpool size, *threads* bounds how many calls of one resource's
application run at once: a request past that waits on the loop for its turn.

Each request is one :class:`_Call`, shared by its thread and the loop. The thread
calls the application, iterates its result and posts what happens to the loop with
``call_soon_threadsafe``; the loop side only ever touches the
:class:`~relays_resources.ResourceRequest`. PEP 3333's rules for the head are
relays-http's :class:`~relays_http.WSGIResponseHead`'s, as in relays-http's own WSGI
gateway: the head goes with the first non-empty chunk (or at the end), so
``start_response`` may be called again with ``exc_info`` until then and re-raises
after; a second call without it is an error. A one-chunk list is the whole answer:
its chunk and the end are posted in one loop callback, so the site sends it whole,
with its length.

Backpressure is Twisted's producer interface: the call registers itself as a push
producer, so the request pauses it (the thread waits before its next chunk) while
more than ``high_water`` bytes wait for the client, and stops it when the client
leaves (the thread stops iterating; the result's ``close()`` is always called).

Errors. An exception before anything was sent is logged and answered with a 500;
after it, the response is cut short (:meth:`ResourceRequest.processingFailed`).
The part of the path walked to reach the resource is ``SCRIPT_NAME``, the rest
``PATH_INFO``.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import io
import logging
import sys
import threading
from collections.abc import Callable, Iterable
from typing import Any

from relays import in_thread
from relays_http import WSGIResponseHead

from ._request import ResourceRequest
from ._resource import NOT_DONE_YET, Resource
from ._site import Site

__all__ = ["DEFAULT_WSGI_THREADS", "WSGIResource"]

#: WSGI calls of one resource running at once (on the tree's thread pool).
DEFAULT_WSGI_THREADS = 8

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]

#: Response fields the server frames itself (and hop-by-hop ones a WSGI app may not set).
_SERVER_FIELDS = frozenset(
    ("content-length", "connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade")
)

logger = logging.getLogger("relays_resources")


class _Stopped(Exception):
    """The client left (or the loop closed): the call ends quietly."""


class _Call:
    """One request's run of the application: the thread's side, and the producer the
    request pauses, resumes and stops from the loop."""

    def __init__(self, loop: asyncio.AbstractEventLoop, request: ResourceRequest) -> None:
        self.loop = loop
        self.request = request
        # Twisted's WSGIResource lets an informational status through as the answer.
        self.head = WSGIResponseHead(self.write, informational=True)
        self.resumed = threading.Event()
        self.resumed.set()
        self.stopped = False

    # -- the producer interface (on the loop) -----------------------------------------

    def pauseProducing(self) -> None:
        self.resumed.clear()

    def resumeProducing(self) -> None:
        self.resumed.set()

    def stopProducing(self) -> None:
        self.stopped = True
        self.resumed.set()

    # -- the thread's side ------------------------------------------------------------

    def write(self, data: bytes, finish: bool = False) -> None:
        """Post *data* (and, with *finish*, the end) to the loop, after any pause."""
        if not isinstance(data, bytes):
            raise TypeError(f"a WSGI application must write bytes, not {type(data).__name__}")
        if not data and not finish:
            return
        self.resumed.wait()
        if self.stopped:
            raise _Stopped
        self._post(_deliver, self.request, self.head.take(), data, finish)

    def _post(self, callback: Callable[..., None], *args: Any) -> None:
        try:
            self.loop.call_soon_threadsafe(callback, *args)
        except RuntimeError:  # the loop is closed: nobody is listening any more
            self.stopped = True
            raise _Stopped from None

    def run(self, application: WSGIApp, environ: dict[str, Any]) -> None:
        """On a pool thread: call *application* and post its answer, or its failure."""
        if self.stopped:
            return  # the client left while the call waited for its turn
        try:
            result = application(environ, self.head.start_response)
            try:
                if isinstance(result, list | tuple) and len(result) == 1:
                    self.write(result[0], finish=True)
                    return
                for chunk in result:
                    self.write(chunk)
                self.write(b"", finish=True)
            finally:
                close = getattr(result, "close", None)
                if close is not None:
                    close()
        except _Stopped:
            return
        except Exception as error:
            if not self.stopped:
                with contextlib.suppress(_Stopped):
                    self._post(self.request.processingFailed, error)


def _deliver(
    request: ResourceRequest,
    head: tuple[str, list[tuple[str, str]]] | None,
    data: bytes,
    finish: bool,
) -> None:
    """On the loop: what a call posted."""
    if head is not None:
        status, headers = head
        request.setResponseCode(int(status[:3]), status[4:].strip())
        fields = request.response.headers
        for name, value in headers:
            if name.lower() not in _SERVER_FIELDS:
                fields.add(name, value)
    if data:
        request.write(data)
    if finish:
        request.unregisterProducer()
        request.finish()


class WSGIResource(Resource):
    """Serve the WSGI *application* at this point of the tree.

    It runs on the tree's thread pool, at most *threads* calls at once (more wait
    their turn); see the theory of operation of :mod:`relays_resources._wsgi`.
    """

    _needs_connection = True  # (see Resource._needs_connection)

    isLeaf = True

    def __init__(self, application: WSGIApp, *, threads: int = DEFAULT_WSGI_THREADS) -> None:
        super().__init__()
        if threads < 1:
            raise ValueError(f"threads is how many calls run at once, at least 1, not {threads}")
        self.application = application
        self.threads = threads
        self._running = 0
        self._turns: collections.deque[asyncio.Future[None]] = collections.deque()
        # in_thread's wrapper for the last site seen (one per tree, made once).
        self._site: Site | None = None
        self._run: Callable[..., Any] = _Call.run

    def render(self, request: ResourceRequest) -> Any:
        site = request.site
        if not isinstance(site, Site):
            raise RuntimeError("a WSGIResource renders under a relays_resources.Site")
        if self._site is not site:
            self._run = in_thread(_Call.run, site)
            self._site = site
        call = _Call(asyncio.get_running_loop(), request)
        request.registerProducer(call, True)
        site.start_task(self._call(self._run, call, _environ(request)))
        return NOT_DONE_YET

    async def _call(self, run: Callable[..., Any], call: _Call, environ: dict[str, Any]) -> None:
        while self._running >= self.threads:
            turn = asyncio.get_running_loop().create_future()
            self._turns.append(turn)
            try:
                await turn
            except asyncio.CancelledError:
                self._pass_turn()
                raise
        self._running += 1
        try:
            await run(call, self.application, environ)
        except asyncio.CancelledError:  # the tree stops: the thread stops at its next write
            call.stopProducing()
            raise
        except Exception as error:  # the pool is shut down: the tree is stopping
            call.request.processingFailed(error)
        finally:
            self._running -= 1
            self._pass_turn()

    def _pass_turn(self) -> None:
        """Wake the first call waiting for a turn, if a turn is free."""
        while self._turns and self._running < self.threads:
            turn = self._turns.popleft()
            if not turn.done():
                turn.set_result(None)
                return


def _environ(request: ResourceRequest) -> dict[str, Any]:
    http = request.http
    host, _, port = http.host.rpartition(":") if ":" in http.host else (http.host, "", "")
    script_name = b"/" + b"/".join(request.prepath) if request.prepath else b""
    path_info = b"/" + b"/".join(request.postpath) if request.postpath else b""
    environ: dict[str, Any] = {
        "REQUEST_METHOD": http.method,
        "SCRIPT_NAME": script_name.decode("latin-1").rstrip("/"),
        "PATH_INFO": path_info.decode("latin-1"),
        "QUERY_STRING": http.query_string,
        "SERVER_NAME": host or "localhost",
        "SERVER_PORT": port or ("443" if http.scheme == "https" else "80"),
        "SERVER_PROTOCOL": f"HTTP/{http.http_version}",
        "CONTENT_TYPE": http.headers.get("Content-Type", ""),
        "CONTENT_LENGTH": str(len(http.content)),
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": http.scheme,
        "wsgi.input": io.BytesIO(http.content),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": True,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
    }
    for name, value in http.headers.items():
        key = "HTTP_" + name.upper().replace("-", "_")
        if key not in ("HTTP_CONTENT_TYPE", "HTTP_CONTENT_LENGTH"):
            environ[key] = f"{environ[key]},{value}" if key in environ else value
    return environ
