"""The :class:`Asgi` dispatcher: an ASGI application answering a relays-http server.

Theory of operation
-------------------
Two ways in. When the tree starts, ``Asgi`` registers a head taker with every
relays-http server (:meth:`relays_http.HTTP.take_heads`): while nothing in the tree
watches requests, relays-http offers it each request at its parsed head, and a request
under the mount is served straight from the head bytes (:mod:`relays_asgi._native`): no
``Request``, no ``request`` event, no handler. Requests relays-http does not offer
(something watches them: an access log, the inspector, a proxy fix-up, a session), and
WebSocket handshakes and requests that arrive before the app's startup is over, which
the taker leaves, come the event way below.

The event way. ``Asgi`` listens for ``request`` at ``Priority.DISPATCH`` on the server's channel.
A request under its mount path is taken (the event stops there) and served in the
handler: the app runs in a task of its own with the request's
:class:`~relays_asgi._http.HttpCycle`, and the handler waits for the response head
(see :mod:`relays_asgi._http`), then answers relays-http with a whole body or a
stream. The app's task outlives the handler when it streams, or keeps working after
its response (Starlette's background tasks); the component keeps every such task,
and cancels those left when the tree stops.

Lifespan. When the tree starts, the app's ``lifespan.startup`` runs (see
:mod:`relays_asgi._lifespan`); requests that arrive meanwhile wait for it. When it
fails, the failure and the app's message are logged and the tree is stopped with
exit status :data:`EXIT_STARTUP_FAILED` (3): the server does not serve an app that
said it cannot. When the tree stops, the
shutdown runs before the tasks of requests still running are cancelled.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from functools import partial
from typing import Any

from relays import BaseComponent, Event, Priority, findtype, handler
from relays.transports import supports_sendfile
from relays_http import (
    HTTP,
    Exchange,
    HTTPError,
    InternalServerError,
    Request,
    Response,
    ServiceUnavailable,
    SwitchProtocols,
    shielded,
    target_parts,
)
from relays_websocket import InvalidHandshake, WebSocketLimits

from ._errors import LifespanFailed
from ._http import AppFailed, HttpCycle, TimedOut, answer_fields
from ._lifespan import Lifespan, LifespanMode
from ._limits import AsgiLimits
from ._native import (
    METHODS,
    NativeCycle,
    connection_parts,
)
from ._scope import ASGI_VERSION, HTTP_SPEC_VERSION, http_scope, websocket_scope
from ._shape import as_asgi3
from ._websocket import (
    Refused,
    WebSocketCycle,
    check_handshake,
    is_websocket_request,
    offered_subprotocols,
    refusal,
)

__all__ = ["EXIT_STARTUP_FAILED", "Asgi"]

logger = logging.getLogger("relays.asgi")

#: The exit status of ``run()`` (so of ``relays serve``) when the app's startup failed,
#: as uvicorn's.
EXIT_STARTUP_FAILED = 3

#: The answer to a request taken while the app's startup failed.
_UNAVAILABLE = (
    503,
    [(b"content-type", b"text/plain; charset=utf-8")],
    b"Service Unavailable: the application did not start\n",
)

#: Bounds of the time between two looks for responses not started in time (a quarter
#: of ``AsgiLimits.response_start_timeout``, within them).
HEAD_SWEEP_INTERVAL_MIN = 0.02
HEAD_SWEEP_INTERVAL_MAX = 1.0

#: Whether the app's tasks start eagerly (``Task(..., eager_start=True)``, Python 3.12+).
EAGER_TASKS = sys.version_info >= (3, 12)


def _extensions(zerocopy: bool) -> dict[str, Any]:
    """The scope's ``extensions``: trailers always, ``zerocopysend`` where the transport
    has ``sendfile``. A new dict each request: the app may change it."""
    if zerocopy:
        return {"http.response.trailers": {}, "http.response.zerocopysend": {}}
    return {"http.response.trailers": {}}


class Asgi(BaseComponent):
    """Serve the ASGI application *app* at *path*: ``Server(...) + Asgi(fastapi_app)``.

    Requests whose path is *path* or below it go to the app, with *path* as the
    scope's ``root_path`` (``"/"``: everything, and an empty ``root_path``); others
    go on to the rest of the tree. *app* is an ASGI 3 application, or an ASGI 2
    double callable (a class; pass ``version=2`` for one that is not a class).
    *lifespan* is ``"auto"`` (run the app's startup and shutdown if it speaks the
    protocol), ``"on"`` (it must) or ``"off"``. *limits* bounds how long the app may
    take and how much it may buffer (:class:`~relays_asgi.AsgiLimits`).
    *stream_request_bodies* (the default) hands request bodies to the app as the
    client sends them; False reads each body whole first.
    """

    channel = "web"

    def __init__(
        self,
        app: Any,
        path: str = "/",
        *,
        channel: Any = "web",
        version: int | None = None,
        lifespan: LifespanMode = "auto",
        limits: AsgiLimits | None = None,
        websocket_limits: WebSocketLimits | None = None,
        stream_request_bodies: bool = True,
    ) -> None:
        super().__init__(channel=channel)
        if not path.startswith("/"):
            raise ValueError(f"a mount path starts with '/', not {path!r}")
        if lifespan not in ("auto", "on", "off"):
            raise ValueError(f"lifespan is 'auto', 'on' or 'off', not {lifespan!r}")
        #: The application, as an ASGI 3 callable.
        self.app = as_asgi3(app, version)
        #: The mount path without its trailing slash (``""`` for ``/``): the root_path.
        self.path = path.rstrip("/")
        self.limits = limits if limits is not None else AsgiLimits()
        #: Frame and message limits of the app's WebSockets (relays-websocket's).
        self.websocket_limits = websocket_limits or WebSocketLimits()
        #: Whether request bodies reach the app as the client sends them (else whole).
        self.stream_request_bodies = stream_request_bodies
        self._lifespan = Lifespan(self.app, lifespan)
        self._lifespan_mode: LifespanMode = lifespan
        self._ready: asyncio.Future[bool] | None = None
        # Whether the app's startup is over and it succeeded: the taker's one test.
        self._serving = False
        # The app's running tasks of requests that came the event way, and WebSockets.
        self._tasks: set[asyncio.Task[None]] = set()
        # The running tasks of requests taken at their head, by cycle: each cycle takes
        # itself out when its app's coroutine ends (NativeCycle.run, calling _forget),
        # which costs less than a done callback (a loop turn's handle each).
        self._taken: dict[NativeCycle, asyncio.Task[None]] = {}
        self._forget = self._taken.pop
        # The tree's loop, known once it started (before any request is taken).
        self._loop: asyncio.AbstractEventLoop
        # The timer of the next look for native responses not started in time.
        self._sweep: asyncio.TimerHandle | None = None
        timeout = self.limits.response_start_timeout
        self._sweep_interval = min(
            max((timeout or 1.0) / 4, HEAD_SWEEP_INTERVAL_MIN), HEAD_SWEEP_INTERVAL_MAX
        )
        #: Requests whose app :meth:`_start_request` started, for :meth:`_on_request`.
        self._begun: dict[Request, tuple[HttpCycle, asyncio.Task[None]]] = {}
        # Removes the head takers registered when the tree started.
        self._untake: list[Any] = []

    def __repr__(self) -> str:
        return f"<Asgi {self.app!r} at {self.path or '/'}>"

    def serves(self, path: str) -> bool:
        """Whether a request for *path* is this app's (the mount path or below it)."""
        mount = self.path
        return not mount or path == mount or path.startswith(mount + "/")

    def _streams_body(self, request: Request) -> bool:
        """The stream rule: requests of ours that have a body (a request without one
        is dispatched as usual, which costs the server less than an empty stream)."""
        if not self.serves(request.path):
            return False
        length = request.header(b"content-length")
        if length is not None:
            return length != b"0"
        return request.header(b"transfer-encoding") is not None

    # -- lifespan ----------------------------------------------------------------------

    def _readiness(self) -> asyncio.Future[bool]:
        if self._ready is None:
            self._ready = asyncio.get_running_loop().create_future()
        return self._ready

    @handler("started", channel="*")
    async def _on_started(self, component: BaseComponent) -> None:
        if component is not self.root:
            return
        self._loop = asyncio.get_running_loop()
        for server in findtype(self.root, HTTP, all=True):
            if self.stream_request_bodies:
                # Bodies under our path reach the app chunk by chunk, as it reads them.
                server.stream_bodies(self._streams_body)
            self._untake.append(server.take_heads(self._take))
        ready = self._readiness()
        try:
            await self._lifespan.startup(self.limits.startup_timeout)
        except LifespanFailed as error:
            logger.error("the ASGI app %r failed to start: %s; stopping", self.app, error.message)
            if not ready.done():
                ready.set_result(False)
            self.root.stop(EXIT_STARTUP_FAILED)
            return
        if not ready.done():
            self._serving = True
            ready.set_result(True)

    @handler("stopped", channel="*", priority=Priority.STOP_PROTOCOLS)
    async def _on_stopped(self, component: BaseComponent) -> None:
        if component is not self.root:
            return
        ready = self._readiness()
        if not ready.done():
            ready.set_result(False)
        for remove in self._untake:
            remove()
        self._untake.clear()
        if self._sweep is not None:
            self._sweep.cancel()
            self._sweep = None
        await self._lifespan.shutdown(self.limits.shutdown_timeout)
        for task in [*self._tasks, *self._taken.values()]:
            task.cancel()

    # -- requests ----------------------------------------------------------------------

    def _take(self, exchange: Exchange) -> bool:
        """relays-http's head taker: serve a request under the mount from its head
        (see :mod:`relays_asgi._native`); leave the others and WebSocket handshakes
        to the ``request`` handlers. Before the app's startup is over, a request
        waits for it (and gets a 503 when it failed).

        Everything a request needs is done here, in one call: the scope as
        :func:`~relays_asgi._scope.http_scope` builds it for a ``Request`` (in one
        dict; its small dicts are new each request, as the app may change them), and
        the app's task as :meth:`_start` makes it.
        """
        if exchange.upgrade_field is not None:
            return False  # a handshake (or a broken one): relays-websocket's to answer
        target = exchange.target
        path = target.decode("latin-1")
        # (Tested on the str: ``bytes in bytes`` tries the needle as an int first.)
        if "%" in path or "?" in path or path[:1] != "/":
            raw_text, path, query_text = target_parts(path)  # as a Request splits it
            raw_path, query = raw_text.encode("latin-1"), query_text.encode("latin-1")
        else:  # the usual target: a plain path, its own raw path, no query
            raw_path, query = target, b""
        mount = self.path
        if mount and path != mount and not path.startswith(mount + "/"):
            return False
        if not self._serving:
            ready = self._readiness()
            if not ready.done():  # the startup is not over: the request waits for it
                ready.add_done_callback(partial(self._take_when_ready, exchange))
            else:  # it failed (the tree stops)
                exchange.respond(*_UNAVAILABLE)
            return True
        info = exchange.connection
        parts = info.notes.get(self)
        if parts is None:
            parts = info.notes[self] = connection_parts(info)
        client, server, scheme, zerocopy = parts
        cycle = NativeCycle(exchange, zerocopy, self.stream_request_bodies)
        method = exchange.method
        scope: dict[str, Any] = {
            "type": "http",
            "asgi": {"version": ASGI_VERSION, "spec_version": HTTP_SPEC_VERSION},
            "http_version": "1.1" if exchange.http_version == b"1.1" else "1.0",
            "method": METHODS.get(method) or method.decode("ascii").upper(),
            "scheme": scheme,
            "path": path,
            "raw_path": raw_path,
            "query_string": query,
            "root_path": mount,
            "headers": exchange.headers,
            "client": client,
            "server": server,
            "extensions": (
                {"http.response.trailers": {}, "http.response.zerocopysend": {}}
                if zerocopy
                else {"http.response.trailers": {}}
            ),
        }
        state = self._lifespan.state
        if state is not None:
            scope["state"] = dict(state)
        # The app's task, as _start makes it for the other cycles.
        loop = self._loop
        if EAGER_TASKS:
            task: asyncio.Task[None] = asyncio.Task(
                cycle.run(self.app, scope, self._forget),
                loop=loop,
                eager_start=True,  # type: ignore[call-arg, unused-ignore]
            )
            if task.done():
                return True
            waiting = not cycle.head_sent
        else:
            task = loop.create_task(cycle.run(self.app, scope, self._forget))
            waiting = True  # the app has not run yet
        self._taken[cycle] = task
        if waiting:
            timeout = self.limits.response_start_timeout
            if timeout is not None:
                # No timer per request (a timer heap insert and cancel cost a tenth
                # of the request): a sweep looks at the heads due (_sweep_heads).
                cycle.head_due = loop.time() + timeout
                if self._sweep is None:
                    self._sweep = loop.call_later(self._sweep_interval, self._sweep_heads)
        return True

    def _take_when_ready(self, exchange: Exchange, ready: asyncio.Future[bool]) -> None:
        """The app's startup is over: serve (or refuse) a request taken meanwhile."""
        if exchange.over:
            return  # the client went meanwhile
        self._take(exchange)

    def _sweep_heads(self) -> None:
        """Answer 500 to the requests whose app has not started its response within
        ``response_start_timeout``; look again later while some are still waiting.

        One timer for all the requests of the app (it runs every quarter of the
        timeout, at most every :data:`HEAD_SWEEP_INTERVAL_MAX` seconds), rather than
        one per request: an app's response times out between ``response_start_timeout``
        and that plus the interval.
        """
        self._sweep = None
        now = self._loop.time()
        waiting = False
        for cycle, task in list(self._taken.items()):
            if cycle.head_sent:
                continue
            if cycle.head_due <= now:
                self._native_timed_out(cycle, task)
            else:
                waiting = True
        if waiting:
            self._sweep = self._loop.call_later(self._sweep_interval, self._sweep_heads)

    def _native_timed_out(self, cycle: NativeCycle, task: asyncio.Task[None]) -> None:
        exchange = cycle.exchange
        logger.error(
            "the ASGI app did not start its response to %s %s within %s s"
            " (AsgiLimits.response_start_timeout); cancelled",
            exchange.method.decode("latin-1"),
            exchange.target.decode("latin-1"),
            self.limits.response_start_timeout,
        )
        cycle.respond_internal_error()
        cycle.give_up()
        task.cancel()

    @handler("request", priority=Priority.DISPATCH)
    def _start_request(self, event: Event, request: Request, response: Response) -> Any:
        """Start the app for *request* in this dispatch's turn; answer here when it
        already has, else :meth:`_on_request`, the next handler, waits for its answer.

        On 3.12+ the app's task is eager: it runs its first step before
        :meth:`_begin` returns (on 3.11 it starts on the next loop turn). An
        app that answers without waiting for anything (a hello-world, most JSON
        endpoints) has answered by then: this handler answers relays-http, and no
        handler task, no paused dispatch and no loop turn are needed. An app that
        waits for something (a body, a database) is answered by the async handler.
        """
        if not self.serves(request.path):
            return None
        ready = self._ready
        if ready is None or not ready.done() or not ready.result():
            return None  # lifespan: the answering handler waits for startup first
        if is_websocket_request(request):
            return None
        cycle, task = self._begin(request)
        if cycle.head_known:
            event.stop()  # the answering handler has nothing left to do
            return self._answer(cycle, request, response)
        self._begun[request] = (cycle, task)
        return None

    @handler("request", priority=Priority.DISPATCH)
    @shielded  # a client that goes away is the app's http.disconnect, not a cancellation
    async def _on_request(self, event: Event, request: Request, response: Response) -> Any:
        # The kernel runs an async handler's first step in its turn (eagerly on 3.12+,
        # with the dispatch paused on 3.11), so this stop() keeps the handlers after
        # it (the default dispatcher's 404) from answering too.
        if not self.serves(request.path):
            return None
        event.stop()
        begun = self._begun.pop(request, None)
        if begun is None:
            ready = self._readiness()
            if not ready.done():
                await ready
            if not ready.result():
                return ServiceUnavailable()
            if is_websocket_request(request):
                return await self._serve_websocket(request)
            begun = self._begin(request)
        cycle, task = begun
        if cycle.head_known:
            return self._answer(cycle, request, response)  # (no timer needed)
        timeout = self.limits.response_start_timeout
        timer = None
        if timeout is not None:
            timer = asyncio.get_running_loop().call_later(timeout, cycle.time_out)
        try:
            await cycle.head
        except TimedOut:
            logger.error(
                "the ASGI app did not start its response to %s %s within %s s"
                " (AsgiLimits.response_start_timeout); cancelled",
                request.method,
                request.target,
                self.limits.response_start_timeout,
            )
            cycle.give_up()
            task.cancel()
            return InternalServerError()
        except AppFailed:
            return InternalServerError()
        except asyncio.CancelledError:
            cycle.give_up()
            task.cancel()
            raise
        finally:
            if timer is not None:
                timer.cancel()
        return self._answer(cycle, request, response)

    def _begin(self, request: Request) -> tuple[HttpCycle, asyncio.Task[None]]:
        """Start the app's task for the HTTP *request*: its cycle and task."""
        sock = request.sock
        zerocopy = sock is not None and supports_sendfile(sock)
        cycle = HttpCycle(request, self.limits.buffered_chunks, zerocopy=zerocopy)
        scope = http_scope(
            request,
            self.path,
            state=self._lifespan.state,
            extensions=_extensions(zerocopy),
        )
        return cycle, self._start(scope, cycle)

    def _answer(self, cycle: HttpCycle, request: Request, response: Response) -> Any:
        """relays-http's answer for the app's response head (the head has come)."""
        try:
            head = cycle.head_now()
        except AppFailed:
            return InternalServerError()
        response.status = head.status
        fields, length = answer_fields(head)
        headers = response.headers
        for name, value in fields:
            headers.add(name, value)
        if head.whole:
            if length is not None and request.method == "HEAD":
                # The length GET would send, as the app said (RFC 9110 9.3.2).
                headers["content-length"] = length
            response.body = head.body
            return response
        if length is not None:
            headers["content-length"] = length  # honoured and enforced by the server
        response.body = cycle.stream(head.body)
        cycle.watch_disconnect()
        return response

    async def _serve_websocket(self, request: Request) -> Any:
        try:
            check_handshake(request)
        except InvalidHandshake as error:
            return refusal(error)
        cycle = WebSocketCycle(request, self.websocket_limits)
        scope = websocket_scope(
            request,
            self.path,
            subprotocols=offered_subprotocols(request),
            state=self._lifespan.state,
        )
        task = self._start(scope, cycle)
        try:
            async with asyncio.timeout(self.limits.response_start_timeout):
                decision = await asyncio.shield(cycle.decision)
        except TimeoutError:
            logger.error(
                "the ASGI app did not accept or close the WebSocket %s within %s s"
                " (AsgiLimits.response_start_timeout); cancelled",
                request.target,
                self.limits.response_start_timeout,
            )
            cycle.give_up()
            task.cancel()
            return InternalServerError()
        except Refused:
            return InternalServerError()
        except asyncio.CancelledError:
            cycle.give_up()
            task.cancel()
            raise
        if decision[0] == "close":
            return HTTPError(403, "the application refused this WebSocket")
        _, subprotocol, fields = decision
        answer = check_handshake(request, subprotocol)
        return SwitchProtocols("websocket", cycle, [*answer.headers, *fields])

    def _start(
        self, scope: dict[str, Any], cycle: HttpCycle | WebSocketCycle
    ) -> asyncio.Task[None]:
        """Run the app for one request in a task of its own, kept until it ends.

        On Python 3.12+ the task starts eagerly: the app runs now, up to its first
        real suspension, and a response it sends at once is there when this returns.
        """
        loop = asyncio.get_running_loop()
        if EAGER_TASKS:
            # (mypy checks against 3.11, which has no ``eager_start``.)
            task: asyncio.Task[None] = asyncio.Task(
                self._run(scope, cycle),
                loop=loop,
                eager_start=True,  # type: ignore[call-arg, unused-ignore]
            )
            if task.done():
                return task
        else:
            # 3.11 has no eager tasks, and taking the first step by hand would need
            # asyncio's private _enter_task: the app starts on the next loop turn.
            task = loop.create_task(self._run(scope, cycle))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def _run(self, scope: dict[str, Any], cycle: HttpCycle | WebSocketCycle) -> None:
        try:
            await self.app(scope, cycle.receive, cycle.send)
        except asyncio.CancelledError:
            cycle.give_up()
            raise
        except BaseException as error:
            cycle.app_failed(error)
        else:
            cycle.app_returned()
