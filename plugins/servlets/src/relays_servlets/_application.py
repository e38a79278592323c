"""``Servlets``: contexts of servlet files answering relays-http's requests.

Theory of operation
-------------------
Each context maps a URL prefix to a directory; the longest prefix of the path
wins, and ``"/"`` is the default context. The rest of the path is walked through
the directory: a directory segment goes down, ``Name`` is the servlet of
``Name.py`` (its class ``Name``), and what follows it is the extra path info (a
404 unless ``extra_path_info`` is on). ``/dir/`` is its ``index.py`` (or
``Main.py``); ``/dir`` without the slash is redirected to it (Webware's
``handleDeficientDirectoryURL``); no servlet is a 404 (``handleBadURL``).

A URL's servlet file is cached (URL -> file, extra path). Each file has one
:class:`_Factory`, which owns its loaded class and its pool of idle instances; it
checks the file's ``mtime`` on each request, and a file changed on disk is loaded
again and its pool emptied. Dispatch runs on the loop; the servlet's life cycle
(``awake``, ``respond``, ``sleep``) runs on a thread of the application's pool.

Servlets run on the tree's thread pool (:class:`relays.PoolCall`, the pool of
``@handler(thread=True)`` handlers, sized by the root's ``handler_threads`` or
``relays serve --threads N``). At most ``threads + queue_limit`` requests are
admitted at once; one more is answered 503 with ``Retry-After`` at once, so an
overload is refused rather than queued without bound.

The hop to the thread and back is kept to one of each way, since it is most of what a
servlet costs over a plain relays-http handler. The request handler is a plain
function: it hands the life cycle to the pool as a :class:`relays.PoolCall` and
answers with the call's value, so no task and no coroutine is made for a request, and
the pool thread's one call to the loop ends the ``request`` event. A servlet that never
flushes has its whole response (status, fields, cookies, body) filled in on its thread
at the end of its life cycle, and that response is the call's outcome (a servlet that
raises fails it: a 500, reported as a failing handler is). A servlet's first
``flush()`` ends the value sooner, on the loop, with the response head and a streamed
body, and its end then comes through the chunk queue (None, or its error). A request's
place among the admitted ones is given back when its value ends, or, for a streamed
response, when its stream does. A form POST reads its body first, in an ``async``
handler of its own (``servlets_form``).

A servlet that flushes streams: its chunks go through a queue bounded by
``flush_limit`` bytes (see :class:`~relays_servlets.ServletResponse`); relays-http
takes the next chunk only once the client has taken the last, and each chunk taken
makes room for a waiting ``flush()``. A client that leaves makes the next
``flush()`` raise, so the servlet's thread is freed.
"""

from __future__ import annotations

import asyncio
import importlib.util
import os
import sys
import threading
from collections.abc import Mapping
from functools import partial
from typing import Any

from relays import BaseComponent, Event, PoolCall, Value, handler
from relays_http import MultiDict, Redirect, Request, Response, ServiceUnavailable

from ._servlet import (
    DEFAULT_FLUSH_LIMIT,
    Servlet,
    ServletRequest,
    ServletResponse,
    Transaction,
)

__all__ = [
    "DEFAULT_QUEUE_LIMIT",
    "DEFAULT_RETRY_AFTER",
    "DEFAULT_THREADS",
    "PRIORITY",
    "ServletLoadError",
    "Servlets",
]

#: Servlets running at once (on the tree's thread pool).
DEFAULT_THREADS = 16
#: Requests waiting for a thread before more are refused with a 503.
DEFAULT_QUEUE_LIMIT = 64
#: The ``Retry-After`` (seconds) of that 503.
DEFAULT_RETRY_AFTER = 1
#: The priority of the ``request`` handler: relays-http's Dispatcher's (10).
PRIORITY = 10
#: The files tried, in order, for a directory URL ending in ``/``.
INDEX_NAMES = ("index", "Main")

_FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


class ServletLoadError(ImportError):
    """A servlet file has no class named after it (``Welcome.py`` needs ``class
    Welcome(Page)``), or that is not a :class:`~relays_servlets.Servlet`."""


class _Factory:
    """One servlet file: its loaded class, its mtime and its idle instances."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._mtime = -1
        self._class: type[Servlet] | None = None
        self._idle: list[Servlet] = []

    def checkout(self, mtime: int) -> Servlet:
        """An instance: an idle one, or a new one (after reloading a file whose *mtime*,
        read by the caller, changed)."""
        with self._lock:
            if mtime != self._mtime or self._class is None:
                self._class = _load(self.path)
                self._mtime = mtime
                self._idle.clear()
            if self._idle:
                return self._idle.pop()
            servlet_class = self._class
        return servlet_class()

    def checkin(self, servlet: Servlet) -> None:
        with self._lock:
            if type(servlet) is self._class:
                self._idle.append(servlet)


def _load(path: str) -> type[Servlet]:
    name = os.path.splitext(os.path.basename(path))[0]
    module_name = f"relays_servlets.site.{abs(hash(path)):x}.{name}"
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise ServletLoadError(f"cannot load servlet file {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module  # dataclasses and pickling look modules up
    spec.loader.exec_module(module)
    found = getattr(module, name, None)
    if not (isinstance(found, type) and issubclass(found, Servlet)):
        raise ServletLoadError(f"{path} must define a Servlet subclass named {name!r}")
    return found


class Servlets(BaseComponent):
    """Serve directories of servlets: ``Servlets({"/": "./site", "/admin": "./admin"})``.

    *extra_path_info*: ``/Welcome/more`` is ``Welcome`` with ``/more`` as extra path
    info (else a 404). *threads*, *queue_limit*, *retry_after*: how many servlets run
    at once on the tree's thread pool, how many more requests wait, and the 503 past
    that; *flush_limit*: the bytes a streaming servlet may have flushed ahead of the
    client (see the theory of operation).
    """

    channel = "web"

    def __init__(
        self,
        contexts: Mapping[str, str | os.PathLike[str]],
        *,
        channel: Any = "web",
        extra_path_info: bool = False,
        threads: int = DEFAULT_THREADS,
        queue_limit: int = DEFAULT_QUEUE_LIMIT,
        retry_after: int = DEFAULT_RETRY_AFTER,
        flush_limit: int = DEFAULT_FLUSH_LIMIT,
    ) -> None:
        super().__init__(channel=channel)
        self.contexts: dict[str, str] = {}
        for prefix, directory in contexts.items():
            if not prefix.startswith("/"):
                raise ValueError(f"a context is a URL prefix starting with '/', not {prefix!r}")
            real = os.path.realpath(directory)
            if not os.path.isdir(real):
                raise ValueError(f"the directory of context {prefix!r} does not exist: {real}")
            self.contexts[prefix.rstrip("/")] = real
        self.extra_path_info = extra_path_info
        self.threads = threads
        self.queue_limit = queue_limit
        self.retry_after = retry_after
        if flush_limit < 0:
            raise ValueError(f"flush_limit is a number of bytes, not {flush_limit!r}")
        self.flush_limit = flush_limit
        self._admitted = 0
        self._factories: dict[str, _Factory] = {}
        self._found: dict[str, tuple[str, str]] = {}

    def __repr__(self) -> str:
        return f"<Servlets {self.contexts}>"

    # -- finding the servlet ----------------------------------------------------

    def find(self, path: str) -> tuple[str, str] | str | None:
        """``(file, extra path info)`` for *path*, a redirect target (``str``), or None.

        A cached file is not checked here: serving it reads its mtime anyway, and a
        file gone since is forgotten then (see :meth:`_on_request`).
        """
        cached = self._found.get(path)
        if cached is not None:
            return cached
        candidate = path.rstrip("/")
        while True:
            directory = self.contexts.get(candidate)
            if directory is not None:
                break
            if not candidate:
                return None
            candidate = candidate.rpartition("/")[0]
        rest = path[len(candidate) :]
        if not rest:
            return path + "/"
        found = self._walk(directory, rest[1:].split("/"), path)
        if isinstance(found, tuple):
            self._found[path] = found
        return found

    def _walk(
        self, directory: str, segments: list[str], path: str
    ) -> tuple[str, str] | str | None:
        current = directory
        for index, segment in enumerate(segments):
            last = index == len(segments) - 1
            if segment == "" and last:
                for name in INDEX_NAMES:
                    file = os.path.join(current, name + ".py")
                    if os.path.isfile(file):
                        return file, ""
                return None
            if not segment or segment[0] in "._" or "\\" in segment or "\x00" in segment:
                return None
            below = os.path.join(current, segment)
            if os.path.isdir(below):
                if last:
                    return path + "/"
                current = below
                continue
            file = below + ".py"
            if not os.path.isfile(file):
                return None
            extra = "/" + "/".join(segments[index + 1 :]) if not last else ""
            if extra and not self.extra_path_info:
                return None
            return file, extra
        return None

    # -- serving ------------------------------------------------------------------

    @handler("request", priority=PRIORITY)
    def _on_request(self, event: Event, request: Request, response: Response) -> Any:
        found = self.find(request.path)
        mtime = 0
        if isinstance(found, tuple):
            try:
                # One stat a request: the mtime checks the file for changes (reload) and
                # for being there at all (the URL cache is not checked on its own).
                mtime = os.stat(found[0]).st_mtime_ns
            except FileNotFoundError:
                self._found.pop(request.path, None)
                found = self.find(request.path)  # walk again: it may be something else now
                if isinstance(found, tuple):
                    mtime = os.stat(found[0]).st_mtime_ns
        if found is None:
            return None  # handleBadURL: the server's 404, unless another handler answers
        event.stop()
        if isinstance(found, str):
            return Redirect(found, 301)  # handleDeficientDirectoryURL
        if self._admitted >= self.threads + self.queue_limit:
            return ServiceUnavailable("every servlet thread is busy", retry_after=self.retry_after)
        self._admitted += 1
        if request.method == "POST" and request.content_type in _FORM_TYPES:
            return self.fire(_FormRequest(request, response, *found, mtime), self)
        return self._serve(request, response, *found, mtime, request.query)

    @handler("servlets_form")
    async def _on_form(
        self, request: Request, response: Response, file: str, extra_path_info: str, mtime: int
    ) -> Any:
        """A form POST: its fields are read (the body may still be arriving), then it is
        served as any request is."""
        try:
            fields = MultiDict(request.query.allitems())
            for name, value in (await request.form()).fields.allitems():
                fields.add(name, value)
        except BaseException:
            self._admitted -= 1
            raise
        return self._serve(request, response, file, extra_path_info, mtime, fields)

    def _serve(
        self,
        request: Request,
        response: Response,
        file: str,
        extra_path_info: str,
        mtime: int,
        fields: MultiDict,
    ) -> Value:
        """Hand the servlet's life cycle to the pool; the value the request ends with."""
        try:
            answer = ServletResponse(asyncio.get_running_loop(), self.flush_limit)
            # (The query alone is not copied: servlets only read it.)
            wrapped = ServletRequest(request, fields, extra_path_info)
            factory = self._factories.get(file)
            if factory is None:
                factory = self._factories[file] = _Factory(file)
            call = PoolCall(self, self._life_cycle, factory, mtime, wrapped, answer, response)
        except BaseException:
            self._admitted -= 1
            raise
        # Read on the loop after the servlet's first flush(), which reaches the loop in a
        # call made after this one returns: set in time.
        answer.on_streaming = partial(self._streaming, call, answer, response)
        call.value.add_done_callback(partial(self._served, answer))
        return call.value

    def _served(self, answer: ServletResponse, value: Value) -> None:
        """The request's value ended: its place goes back, unless it streams (then it
        goes back when the stream ends)."""
        if value.errors or not answer.isCommitted():
            self._admitted -= 1

    def _streaming(self, call: PoolCall, answer: ServletResponse, response: Response) -> None:
        """On the loop: the servlet's first flush() sent the head; answer with it and the
        stream of what it flushes."""
        try:
            _fill_head(response, answer)
        except Exception as error:  # a cookie relays-http refuses, say: the servlet's bug
            answer.client_gone()  # its next flush() raises: nobody will read the stream
            call.fail(error)
            return
        response.body = self._stream(answer)
        call.settle(response)

    async def _stream(self, answer: ServletResponse) -> Any:
        completed = False
        try:
            while True:
                chunk = await answer.chunks.get()
                if chunk is None:
                    completed = True
                    break
                if isinstance(chunk, BaseException):  # the servlet failed after flushing
                    completed = True
                    raise chunk
                yield chunk
                answer.taken(len(chunk))  # the client took it: room for a flush
        finally:
            self._admitted -= 1
            if not completed:
                # Its next flush() raises ClientDisconnected, which ends it.
                answer.client_gone()

    def _life_cycle(
        self,
        factory: _Factory,
        mtime: int,
        request: ServletRequest,
        response: ServletResponse,
        answer: Response,
    ) -> Response | None:
        """On a pool thread: Webware's awake, respond, sleep, then back to the pool.

        Returns *answer* filled in from a response never flushed (sent whole), and
        raises what the servlet raised before flushing; after a flush, its end and any
        error go through the response's chunks instead (the request's value has ended).
        """
        try:
            servlet = factory.checkout(mtime)
            transaction = Transaction(self, request, response, servlet)
            servlet.awake(transaction)
            try:
                servlet.respond(transaction)
            finally:
                servlet.sleep(transaction)
        except BaseException as error:
            if not response.close(error):
                raise
            return None
        factory.checkin(servlet)
        if response.close():
            return None
        # Nobody else holds *answer* until the value ends with it: filled in here.
        _fill_head(answer, response)
        answer.body = response.body()
        return answer


def _fill_head(answer: Response, response: ServletResponse) -> None:
    """Copy the servlet's status, fields and cookies onto relays-http's *answer*."""
    answer.status = response.status
    headers = answer.headers
    for name, value in response.headers.items():
        headers[name] = value
    for name, value, options in response.cookies:
        answer.set_cookie(name, value, **options)


class _FormRequest(Event):
    """``servlets_form(request, response, file, extra_path_info, mtime)``, fired at the
    servlets: a form POST whose fields are read before its servlet runs."""

    name = "servlets_form"
