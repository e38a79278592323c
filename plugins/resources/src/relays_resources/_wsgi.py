"""``WSGIResource``: a WSGI application as a leaf of the tree.

The application runs on a thread of a bounded pool (blocking code must not stall
the loop); ``start_response`` and each chunk hop back to the loop's thread with
``call_soon_threadsafe`` and go out through the request's streamed body. The part
of the path walked to reach the resource is ``SCRIPT_NAME``, the rest ``PATH_INFO``.
The pool will move to the kernel's thread pool once relays has one.
"""

from __future__ import annotations

import asyncio
import io
import sys
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from ._request import ResourceRequest
from ._resource import NOT_DONE_YET, Resource

__all__ = ["DEFAULT_WSGI_THREADS", "WSGIResource"]

#: Threads running WSGI applications, per resource.
DEFAULT_WSGI_THREADS = 8

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class WSGIResource(Resource):
    """Serve the WSGI *application* at this point of the tree, on *threads* threads."""

    isLeaf = True

    def __init__(self, application: WSGIApp, *, threads: int = DEFAULT_WSGI_THREADS) -> None:
        super().__init__()
        self.application = application
        self.executor = ThreadPoolExecutor(threads, thread_name_prefix="relays-wsgi-resource")

    def render(self, request: ResourceRequest) -> Any:
        loop = asyncio.get_running_loop()
        environ = _environ(request)
        self.executor.submit(self._run, loop, request, environ)
        return NOT_DONE_YET

    def _run(
        self, loop: asyncio.AbstractEventLoop, request: ResourceRequest, environ: dict[str, Any]
    ) -> None:
        def start_response(
            status: str, headers: list[tuple[str, str]], exc_info: Any = None
        ) -> Any:
            loop.call_soon_threadsafe(_head, request, status, headers)
            return lambda data: loop.call_soon_threadsafe(request.write, data)

        try:
            chunks = self.application(environ, start_response)
            try:
                for chunk in chunks:
                    loop.call_soon_threadsafe(request.write, chunk)
            finally:
                close = getattr(chunks, "close", None)
                if close is not None:
                    close()
        except Exception as error:
            loop.call_soon_threadsafe(_fail, request, error)
            return
        loop.call_soon_threadsafe(request.finish)


def _head(request: ResourceRequest, status: str, headers: list[tuple[str, str]]) -> None:
    code, _, reason = status.partition(" ")
    request.setResponseCode(int(code), reason)
    for name, value in headers:
        if name.lower() not in ("content-length", "connection", "transfer-encoding"):
            request.response.headers.add(name, value)


def _fail(request: ResourceRequest, error: Exception) -> None:
    import logging

    logging.getLogger("relays_resources").error(
        "the WSGI application failed on %r", request, exc_info=error
    )
    if not request.finished:
        request.finish()


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
