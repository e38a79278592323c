"""The keep-alive pool: open connections per origin, their limits and their reuse.

Theory of operation
===================

The pool owns every connection it opened, and counts them per origin and in total.
A request *acquires* a connection: the most recently used idle one of its origin
(the one least likely to have been closed by the server's keep-alive timer), else a
new one if the limits allow, else it waits in line for one to be released. A request
*releases* its connection when its exchange is over: back to the idle list only when
the core says the exchange ended cleanly and the connection may be reused, otherwise
closed. Releasing wakes the first waiter that can now go ahead.

Idle connections expire after ``idle_timeout`` seconds; they are checked when the
pool next looks at them rather than by a timer per connection, so an idle pool costs
nothing. When the total limit is reached and another origin has idle connections, the
oldest of those is closed to make room: an idle connection must never block a request.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any

import attrs

from ._connection import HTTPConnection
from ._errors import ClientError, PoolTimeout
from ._url import Route

__all__ = ["ConnectionPool", "PoolLimits"]


def _positive_or_none(instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise ValueError(f"PoolLimits.{attribute.name} must be positive or None, not {value!r}")


@attrs.frozen
class PoolLimits:
    """How many connections a session keeps, and for how long an idle one is kept."""

    #: Open connections in total, idle or busy.
    max_connections: int = attrs.field(default=100, validator=_positive_or_none)
    #: Open connections to one origin (its scheme, name and port); None: no limit but the total.
    max_per_host: int | None = attrs.field(default=None, validator=_positive_or_none)
    #: Seconds an idle keep-alive connection is kept for reuse. Servers close idle
    #: connections after 5 s (nginx 75 s, relays 5 s): shorter saves a failed reuse.
    idle_timeout: float = attrs.field(default=15.0, validator=_positive_or_none)


class ConnectionPool:
    """Connections per origin, within :class:`PoolLimits`."""

    def __init__(
        self, limits: PoolLimits, connect: Callable[[Route], Awaitable[HTTPConnection]]
    ) -> None:
        self.limits = limits
        self._connect = connect
        self._idle: dict[Route, list[HTTPConnection]] = {}
        self._open: dict[Route, int] = {}
        self._total = 0
        self._waiters: deque[tuple[Route, asyncio.Future[None]]] = deque()
        self._closed = False
        self._opened = 0

    @property
    def connections_opened(self) -> int:
        """Connections opened since the pool was made: with keep-alive working, far
        fewer than the requests sent."""
        return self._opened

    @property
    def open_connections(self) -> int:
        """Connections open now, idle or busy."""
        return self._total

    def idle_connections(self, origin: Route) -> int:
        """Idle connections kept for ``origin``."""
        return len(self._idle.get(origin, ()))

    async def acquire(self, origin: Route, pool_timeout: float | None) -> HTTPConnection:
        """A connection for ``origin`` (a route: an origin, or a proxy's way to one): an
        idle one, a new one, or the next released one."""
        if self._closed:
            raise ClientError("the session is closed: make a new one")
        while True:
            connection = self._take_idle(origin)
            if connection is not None:
                return connection
            if self._has_room(origin):
                self._open[origin] = self._open.get(origin, 0) + 1
                self._total += 1
                try:
                    connection = await self._connect(origin)
                except BaseException:
                    self._forget(origin)
                    self._wake()  # the place it held is free for someone waiting
                    raise
                self._opened += 1
                return connection
            await self._wait_in_line(origin, pool_timeout)

    def release(self, connection: HTTPConnection) -> None:
        """Take ``connection`` back: kept for reuse if its exchange ended cleanly."""
        if connection.reusable and not self._closed:
            connection.core.start_next_cycle()
            connection.exchanges += 1
            connection.idle_since = asyncio.get_running_loop().time()
            self._idle.setdefault(connection.route, []).append(connection)
        else:
            connection.close()
            self._forget(connection.route)
        self._wake()

    def discard(self, connection: HTTPConnection) -> None:
        """Close ``connection`` and free its place (the exchange on it failed)."""
        connection.close()
        self._forget(connection.route)
        self._wake()

    def close(self) -> None:
        """Close every idle connection; busy ones close when released."""
        self._closed = True
        for connections in self._idle.values():
            for connection in connections:
                connection.close()
                self._forget(connection.route)
        self._idle.clear()
        while self._waiters:
            _, waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_exception(ClientError("the session was closed while waiting"))

    # -- internals ----------------------------------------------------------------------

    def _forget(self, origin: Route) -> None:
        count = self._open.get(origin, 0)
        if count:
            self._open[origin] = count - 1
            self._total -= 1

    def _take_idle(self, origin: Route) -> HTTPConnection | None:
        connections = self._idle.get(origin)
        if not connections:
            return None
        deadline = asyncio.get_running_loop().time() - self.limits.idle_timeout
        while connections:
            connection = connections.pop()
            if connection.ready and connection.idle_since > deadline:
                return connection
            connection.close()
            self._forget(origin)
        return None

    def _has_room(self, origin: Route) -> bool:
        limits = self.limits
        per_host = limits.max_per_host
        if per_host is not None and self._open.get(origin, 0) >= per_host:
            return False
        if self._total < limits.max_connections:
            return True
        return self._close_oldest_idle()

    def _close_oldest_idle(self) -> bool:
        """Close the idle connection that waited longest, of any origin; False if none."""
        oldest: HTTPConnection | None = None
        for connections in self._idle.values():
            if connections and (oldest is None or connections[0].idle_since < oldest.idle_since):
                oldest = connections[0]
        if oldest is None:
            return False
        self._idle[oldest.route].remove(oldest)
        oldest.close()
        self._forget(oldest.route)
        return True

    async def _wait_in_line(self, origin: Route, timeout: float | None) -> None:
        waiter = asyncio.get_running_loop().create_future()
        entry = (origin, waiter)
        self._waiters.append(entry)
        try:
            async with asyncio.timeout(timeout):
                await waiter
        except TimeoutError:
            if waiter.done() and not waiter.cancelled() and waiter.exception() is None:
                self._wake()  # we were woken as the timer fired: pass the turn on
            raise PoolTimeout(
                f"no connection to {origin} became free within {timeout} s (Timeouts.pool): "
                f"all {self.limits.max_connections} are busy; raise PoolLimits or the timeout"
            ) from None
        finally:
            if entry in self._waiters:
                self._waiters.remove(entry)

    def _wake(self) -> None:
        """Wake the first waiter that can go ahead now."""
        for origin, waiter in self._waiters:
            if waiter.done():
                continue
            if self._idle.get(origin) or self._can_open(origin):
                waiter.set_result(None)
                return

    def _can_open(self, origin: Route) -> bool:
        limits = self.limits
        per_host = limits.max_per_host
        if per_host is not None and self._open.get(origin, 0) >= per_host:
            return False
        return self._total < limits.max_connections or any(self._idle.values())
