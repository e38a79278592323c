"""The HTTP protocol component: transport events in, ``request`` events out, bytes back.

Theory of operation
-------------------
:class:`HTTP` listens on its transport's channel for ``connect``, ``read``,
``eof`` and ``disconnect``, and owns the set of open connections: each is an
:class:`~relays_http._connection.HTTPConnection`, which owns that connection's
state and does the protocol's work (receiving, answering, keep-alive; see
:mod:`relays_http._connection`). The component passes every transport event to
the right one, keeps the number of connections within ``max_connections`` (see
below), and keeps the :class:`~relays_http._connection.ServerContext` they share up to
date: which hooks are watched (checked when the tree changes), and through it
the collaborators it owns, :class:`~relays_http._lifecycle.Deadlines` (the
sweep of timeouts), :class:`~relays_http._dateline.DateLine` and
:class:`~relays_http._lifecycle.Shutdown` (a graceful stop).

Fair slots at the cap. When a connection arrives with ``max_connections`` open,
refusing it would let whoever holds the slots keep them: 2,000 idle keep-alive
connections, or heads that never end, and every new client gets a 503. So the
connections that made the least progress make room first (:func:`least_progress`):
idle keep-alive connections, the longest idle first (closed quietly: a client
retries a request on a keep-alive connection that closed), then connections whose
request head is not complete, the one waiting longest first (a 408, as when
their deadline passes: silent connections, whose first bytes never came, are among
them), then request bodies
arriving below ``min_request_body_rate`` so far, the slowest first (a 408: the
rate check would cut them once their grace period is over; at the cap they go
sooner). A head or body younger than ``shed_after`` seconds is spared, as its
bytes may be on the way; a body arriving at the minimum rate and a request being
answered are never shed. Only when nothing can be
shed is the new connection refused with a 503. Shed connections stop counting at
once, though they stay in the set until the transport says they are gone. The
search scans every connection, so it sheds a batch (a hundredth of the cap) at a
time: under a flood the scan runs once per batch, not per connection.

Switching protocols. A connection whose handler answered
:class:`~relays_http.SwitchProtocols` writes its ``101`` and asks to be handed
over (:meth:`HTTP._hand_over`): it leaves the HTTP connections for an
:class:`~relays_http._upgrade.UpgradedConnection`, and from then on its ``read``,
``eof`` and ``disconnect`` go to the new protocol's handler (see
:mod:`relays_http._upgrade`). A transport event finds its connection among the
HTTP ones first, so HTTP connections pay nothing for this.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from relays import BaseComponent, Priority, handler
from relays.transports import Connection

from . import _protocol as protocol
from ._connection import HTTPConnection, ServerContext
from ._dateline import DateLine
from ._exchange import HeadTaker
from ._lifecycle import BODY, HEAD, IDLE, Deadlines, ProcessStop, Shutdown
from ._limits import Limits
from ._request import Request
from ._response import Response
from ._upgrade import UpgradedConnection, UpgradeHandler
from .events import BadRequestEvent, ResponseEvent

__all__ = ["HTTP", "least_progress"]


def least_progress(
    connections: Iterable[HTTPConnection],
    now: float,
    *,
    header_timeout: float,
    shed_after: float,
    body_rate: float,
    count: int,
) -> list[HTTPConnection]:
    """The (at most) *count* connections that made the least progress, least first.

    Idle keep-alive connections come first, the longest idle first; then connections
    whose request head is incomplete and older than *shed_after* seconds, the one
    waiting longest first; then request bodies arriving below *body_rate* (bytes per
    second since the request began, or while its handler waited on a streamed one; 0:
    none), the slowest first. A request being answered never comes; see the theory of
    operation.
    """
    ranked: list[tuple[int, float, int, HTTPConnection]] = []
    for order, connection in enumerate(connections):
        phase = connection.phase
        if phase == IDLE:
            # Its deadline is when it became idle plus the keep-alive timeout of all.
            ranked.append((0, connection.deadline, order, connection))
        elif phase == HEAD:
            # When its head began: its first byte or, for a first request that sent
            # nothing yet, the connection (whose deadline is header_timeout after it).
            began = connection.started or connection.deadline - header_timeout
            if now - began >= shed_after:
                ranked.append((1, began, order, connection))
        elif phase == BODY and body_rate:
            stream = connection.stream
            if stream is not None:  # timed while its handler waits on it
                elapsed, size = stream.reader_waited(now), stream.received
            elif connection.started:
                elapsed, size = now - connection.started, connection.size
            else:
                continue
            if elapsed >= shed_after and size < body_rate * elapsed:
                ranked.append((2, size / elapsed, order, connection))
    return [entry[3] for entry in heapq.nsmallest(count, ranked)]


def _prefix_rule(prefix: str) -> Callable[[Request], bool]:
    """A stream rule taking *prefix* (a path, ``"/upload"``) and the paths under it."""
    if not prefix.startswith("/"):
        raise ValueError(f"a stream rule's path prefix starts with '/', not {prefix!r}")
    base = prefix.rstrip("/")
    under = base + "/"

    def rule(request: Request) -> bool:
        path = request.path
        return path == base or path.startswith(under)

    return rule


class HTTP(BaseComponent):
    """The HTTP/1.1 protocol on a transport's channel (circuits.web's ``HTTP``).

    Register it next to a transport with the same *channel*; it fires
    ``request(request, response)`` on that channel for every request and writes
    what the handlers answer. :class:`~relays_http.BaseServer` does that pairing
    for you. *debug* puts tracebacks into 500 pages: never on a public server.
    When the tree stops, responses in flight get *shutdown_timeout* seconds to
    finish (see :mod:`relays_http._lifecycle`).
    """

    channel = "web"

    def __init__(
        self,
        *,
        channel: Any = "web",
        limits: Limits | None = None,
        debug: bool = False,
        server_name: str = "relays",
        shutdown_timeout: float = 4.0,
    ) -> None:
        super().__init__(channel=channel)
        limits = limits if limits is not None else Limits()
        self._connections: dict[Connection, HTTPConnection] = {}
        # Connections shed at the cap that the transport has not reported gone yet: they
        # no longer count (see the theory of operation).
        self._shed: set[Connection] = set()
        # Connections handed to another protocol (see _hand_over): no longer HTTP's.
        self._upgraded: dict[Connection, UpgradedConnection] = {}
        self._deadlines = Deadlines(limits, self._connections.values)
        self._shutdown = Shutdown(shutdown_timeout)
        # Set while a process is run for this server (see stopping_the_process).
        self._process_stop: ProcessStop | None = None
        self._context = ServerContext(
            limits=limits,
            debug=debug,
            fire=self.fire,
            hand_over=self._hand_over,
            date_line=DateLine(server_name),
            deadlines=self._deadlines,
            shutdown=self._shutdown,
        )

    @property
    def limits(self) -> Limits:
        """The limits enforced on every connection."""
        return self._context.limits

    @property
    def debug(self) -> bool:
        """Whether 500 pages show the traceback."""
        return self._context.debug

    @debug.setter
    def debug(self, value: bool) -> None:
        self._context.debug = value

    @property
    def shutdown_timeout(self) -> float:
        """Seconds a stop waits for responses in flight before cutting them short."""
        return self._shutdown.timeout

    @property
    def connections(self) -> int:
        """The number of open connections (switched to another protocol or not)."""
        return len(self._connections) + len(self._upgraded)

    def stream_bodies(self, rule: str | Callable[[Request], bool]) -> Callable[[], None]:
        """Fire ``request`` at head time, with its body to stream, for requests *rule* takes.

        *rule* is a path prefix (``"/upload"`` takes ``/upload`` and ``/upload/...``)
        or a predicate given the :class:`~relays_http.Request` (head only; no body).
        Such requests are read with ``async for chunk in request.stream()`` (see
        :mod:`relays_http._body`); the others stay buffered, and a server without
        rules pays one test per request. Returns the function that removes the rule.
        """
        if isinstance(rule, str):
            rule = _prefix_rule(rule)
        rules = self._context.stream_rules
        rules.append(rule)
        taken = rule

        def remove() -> None:
            if taken in rules:
                rules.remove(taken)

        return remove

    def take_heads(self, taker: HeadTaker) -> Callable[[], None]:
        """Offer each request to *taker* at its parsed head, before any ``Request``.

        *taker* is called with an :class:`~relays_http.Exchange` (the head as bytes,
        the connection's addresses, a responder) and returns True to take the
        request: it answers through the exchange, and no ``request`` event is
        fired. False leaves the request to the usual path. Takers are asked in the
        order they were given, and only while nothing in the tree watches every
        request (see :mod:`relays_http._exchange`). Returns the function that
        removes *taker*.
        """
        takers = self._context.head_takers
        takers.append(taker)
        self._watch_requests()

        def remove() -> None:
            if taker in takers:
                takers.remove(taker)
                self._watch_requests()

        return remove

    def _watch_requests(self) -> None:
        """Whether head takers are asked: there are some, and nothing else wants to see
        every request (a hook, or a ``request`` handler ahead of the dispatchers)."""
        context = self._context
        context.take_heads = bool(context.head_takers) and not (
            context.watch_responses
            or context.watch_before_request
            or context.watch_before_response
            or any(h.priority > Priority.DISPATCH for h in self.handlers("request", self.channel))
        )

    # -- transport events ------------------------------------------------------------

    @handler("connect")
    def _on_connect(self, sock: Connection, *address: Any) -> None:
        context = self._context
        limit = context.limits.max_connections
        if (
            len(self._connections) + len(self._upgraded) - len(self._shed) >= limit
            and not self._make_room()
        ):
            reason = "too many connections; retry later"
            sock.write(protocol.render_error_response(503, reason))
            sock.linger()  # its request may be on the way: let the 503 arrive
            if context.watch_bad_requests:
                self.fire(BadRequestEvent(sock, 503, reason, None))
            return
        self._deadlines.start()
        self._connections[sock] = HTTPConnection(context, sock)
        if self._shutdown.stopping:
            # Accepted while the server drains, its request on the way: answered (with
            # ``Connection: close``) before the transport may close it.
            sock.busy = True

    @handler("not_tls")
    def _on_not_tls(self, sock: Connection, data: bytes) -> None:
        """Plain text reached a TLS port (relays-sockets' ``not_tls``): most likely an
        ``http://`` URL for an HTTPS server. Say so in a plain 400, as cheroot does, instead of
        a failed handshake the client cannot explain; the transport lingers the connection."""
        reason = "this port speaks HTTPS: use an https:// URL (plain HTTP was sent to TLS)"
        sock.write(protocol.render_error_response(400, reason))
        if self._context.watch_bad_requests:
            self.fire(BadRequestEvent(sock, 400, reason, None))

    @handler("read")
    def _on_read(self, sock: Connection, data: bytes) -> None:
        connection = self._connections.get(sock)
        if connection is not None:
            connection.receive(data)
            return
        upgraded = self._upgraded.get(sock)
        if upgraded is not None:
            upgraded.data(data)

    @handler("eof")
    def _on_eof(self, sock: Connection) -> None:
        connection = self._connections.get(sock)
        if connection is not None:
            connection.receive_eof()
            return
        upgraded = self._upgraded.get(sock)
        if upgraded is not None:
            upgraded.eof()  # the new protocol decides when to close
        else:
            sock.close()

    @handler("disconnect")
    def _on_disconnect(self, sock: Connection) -> None:
        if self._shed:
            self._shed.discard(sock)
        connection = self._connections.pop(sock, None)
        if connection is not None:
            connection.lost()
            return
        upgraded = self._upgraded.pop(sock, None)
        if upgraded is not None:
            upgraded.closed(None)

    @handler("registered", "unregistered", "started", channel="*")
    def _on_tree_changed(self, *args: Any) -> None:
        # Fire the hook events only while somebody listens.
        context = self._context
        context.watch_responses = bool(self.handlers("response", self.channel))
        context.watch_bad_requests = bool(self.handlers("bad_request", self.channel))
        context.watch_before_request = bool(self.handlers("before_request", self.channel))
        context.watch_before_response = bool(self.handlers("before_response", self.channel))
        self._watch_requests()

    @handler("started", channel="*")
    def _on_started(self, component: BaseComponent) -> None:
        if component is self.root:
            self._shutdown.stopping = False  # a tree run again serves keep-alive again
            if self._process_stop is not None:
                self._process_stop.arm()  # after the loop's signal handlers

    @contextmanager
    def stopping_the_process(self, stop_listening: Callable[[], None] | None) -> Iterator[None]:
        """While the process runs this server's tree: a signal closes the listener first
        (*stop_listening*), and the stop is bounded (see :class:`ProcessStop`).

        ``Server.run()`` uses it; a server started in a thread or inside asyncio code
        leaves signals to its host.
        """
        self._process_stop = ProcessStop(self._shutdown, stop_listening)
        try:
            yield
        finally:
            self._process_stop.disarm()
            self._process_stop = None

    @handler("stopped", channel="*", priority=Priority.STOP_PROTOCOLS)
    async def _on_stopped(self, component: BaseComponent) -> None:
        if component is not self.root:
            return
        self._deadlines.stop()
        self._close_upgraded()
        await self._shutdown.stop(self._connections.values())

    # -- fair slots at the cap --------------------------------------------------------

    def _make_room(self) -> bool:
        """At the cap: shed a batch of the connections that made the least progress;
        False when none can be (see the theory of operation)."""
        limits = self._context.limits
        shed = self._shed
        candidates = (c for c in self._connections.values() if c.sock not in shed)
        batch = least_progress(
            candidates,
            self._deadlines.now(),
            header_timeout=limits.header_timeout,
            shed_after=limits.shed_after,
            body_rate=limits.min_request_body_rate,
            count=max(1, limits.max_connections // 100),
        )
        for connection in batch:
            shed.add(connection.sock)
            # As if its deadline had passed: an idle one closes quietly, a head gets its
            # 408, once (the connection's own rules).
            connection.expire(math.inf)
        return bool(batch)

    # -- switching protocols ---------------------------------------------------------

    def _hand_over(self, connection: HTTPConnection, handler: UpgradeHandler) -> None:
        """*connection* wrote its ``101``: it leaves HTTP for *handler*'s protocol.

        It is forgotten here (no HTTP deadline or stop rule applies any more); what
        the client sent after its request goes to the handler.
        """
        sock = connection.sock
        del self._connections[sock]
        request, buffered, eof = connection.switched()
        sock.busy = False  # a stop waiting for busy connections need not wait for it
        if request is not None:
            request.close()
            if self._context.watch_responses:
                response = Response(status=101)
                response.bytes_sent = 0
                self.fire(ResponseEvent(request, response))
        upgraded = self._upgraded[sock] = UpgradedConnection(sock, handler)
        upgraded.made(buffered, eof)
        if self._shutdown.stopping:  # switched while the server stops: it does not stay
            self._upgraded.pop(sock, None)
            sock.close()
            upgraded.closed(None)

    def _close_upgraded(self) -> None:
        """The server stops: close the switched connections, telling each handler."""
        upgraded = list(self._upgraded.values())
        self._upgraded.clear()
        for connection in upgraded:
            connection.sock.close()
            connection.closed(None)
