"""How an HTTP connection ends: its timeouts, and a graceful stop.

Theory of operation
-------------------
Timeouts. A session (see :mod:`relays_http._server`) has one deadline and a
*phase* saying what it guards: the request head (``header_timeout``, from the
first byte, or from the connection for the first request: slowloris), the body
(``body_timeout`` between two reads), or an idle keep-alive connection
(``keep_alive_timeout``). Rather than a timer per connection rescheduled on every
read, one ``loop.call_later`` :func:`sweep` per server checks all deadlines a few
times per shortest timeout: the hot path pays a float store, not a timer-heap
insert and cancel. Expired head and body phases get a 408, idle connections are
just closed. While a handler runs there is no deadline.

Stopping. The component's ``stopped`` handler runs before the transport's
(:data:`STOPPED_PRIORITY`) and awaits :func:`stop`: idle connections are closed
at once; busy ones are marked (``sock.busy``, which relays-sockets honours by
waiting for them) and closed after their response, which says
``Connection: close``. Connections switched to another protocol are closed, and
their handlers told (``connection_lost(None)``). We wait up to
``shutdown_timeout`` for the busy ones, then cancel what still streams.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from . import _protocol as protocol
from ._limits import Limits

if TYPE_CHECKING:
    from ._server import HTTP

__all__ = [
    "BODY",
    "HANDLING",
    "HEAD",
    "IDLE",
    "STOPPED_PRIORITY",
    "loop_clock",
    "stop",
    "sweep",
    "sweep_interval",
]

logger = logging.getLogger("relays.http")

# Session phases: which deadline, if any, is running.
HANDLING = 0  # a handler is answering: no deadline
HEAD = 1  # waiting for (the rest of) a request head
BODY = 2  # waiting for more of a request body
IDLE = 3  # keep-alive connection between requests

#: Priority of the ``stopped`` handler: above the transport's, which must see which
#: connections are busy (relays-sockets' runs at -10).
STOPPED_PRIORITY = 10
#: Seconds between two looks for responses still in flight while stopping.
_SHUTDOWN_POLL_INTERVAL = 0.02


def loop_clock(loop: asyncio.AbstractEventLoop) -> Callable[[], float]:
    """*loop*'s clock, in the cheapest form that reads the same time.

    asyncio's own loops define ``time()`` as :func:`time.monotonic`: calling that
    C function directly saves a Python call on every timestamp of the hot path
    (a connection takes three or four). Other loops (uvloop) keep their own.
    """
    if type(loop).time is asyncio.BaseEventLoop.time:
        return time.monotonic
    return loop.time


def sweep_interval(limits: Limits) -> float:
    """Seconds between two sweeps: a few per shortest timeout, within bounds."""
    timeouts = (limits.header_timeout, limits.body_timeout, limits.keep_alive_timeout)
    return min(max(min(timeouts) / 4, 0.02), 1.0)


def sweep(http: HTTP) -> None:
    """Expire the sessions past their deadline; run again while any are open."""
    loop = asyncio.get_running_loop()
    now = http._time()
    for session in list(http._sessions.values()):
        phase = session.phase
        if phase == HANDLING or now < session.deadline:
            continue
        session.phase = HANDLING  # expire once
        if phase == IDLE:
            session.sock.close()
        else:
            what = "request head" if phase == HEAD else "request body"
            error = protocol.RemoteProtocolError(
                f"timed out receiving the {what}", status_code=408
            )
            http._refuse(session, error)
    http._sweeper = loop.call_later(http._sweep_interval, sweep, http) if http._sessions else None


async def stop(http: HTTP) -> None:
    """The tree stops: close idle connections, give busy ones time to finish."""
    http._stopping = True
    if http._sweeper is not None:
        http._sweeper.cancel()
        http._sweeper = None
    # Before the transport's own (lower priority) handler looks: idle
    # connections close now, busy ones once their response is out (see
    # HTTP._sent), and the transport is told to wait for them.
    http._close_upgraded()
    sessions = http._sessions
    for session in list(sessions.values()):
        if session.busy:
            session.sock.busy = True  # part of the transport contract
        else:
            session.sock.close()
    loop = asyncio.get_running_loop()
    deadline = loop.time() + http.shutdown_timeout
    while any(session.busy for session in sessions.values()):
        if loop.time() >= deadline:
            logger.warning(
                "%d response(s) still in flight after %s s; cut short",
                sum(session.busy for session in sessions.values()),
                http.shutdown_timeout,
            )
            break
        await asyncio.sleep(_SHUTDOWN_POLL_INTERVAL)
    tasks = http._tasks
    for task in list(tasks):
        task.cancel()
    if tasks:
        await asyncio.gather(*tasks, return_exceptions=True)
