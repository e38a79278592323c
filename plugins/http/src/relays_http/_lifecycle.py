"""How HTTP connections end: their deadlines, and a graceful stop of the server.

Theory of operation
-------------------
Deadlines. A connection (see :mod:`relays_http._connection`) has one deadline
and a *phase* saying what it guards: the request head (``header_timeout``, from
the first byte, or from the connection for the first request: slowloris), the
body (``body_timeout`` between two reads), or an idle keep-alive connection
(``keep_alive_timeout``). Rather than a timer per connection rescheduled on every
read, :class:`Deadlines` runs one ``loop.call_later`` sweep per server that
checks all deadlines a few times per shortest timeout: the hot path pays a float
store, not a timer-heap insert and cancel. Each connection decides what its
expiry means (a 408, or a quiet close when idle). While a handler runs there is
no deadline. ``header_timeout`` is a total: bytes trickling in do not extend it.

Data rates (Kestrel's minimum data rates). A deadline per read cannot stop a
client that sends a body one byte every few seconds, nor one that reads its
answer that slowly: each keeps a slot for as long as it likes. So the sweep also
checks averages, once ``data_rate_grace_period`` has passed:

* the request body: the body bytes received since the request's first byte, over
  the time since then, must reach ``min_request_body_rate`` (the connection asks,
  :meth:`Deadlines.body_too_slow`, and answers 408). A body streamed to its
  handler is measured only while its handler waits on it, as Kestrel does: the
  body bytes received over the time the reader spent waiting on an empty buffer
  (:meth:`relays_http._body.BodyStream.reader_waited`), once that time is past the
  grace period. A handler that is slow itself does not wait, so its client is
  not blamed; a 408 fails the stream, and the handler's loop raises it;
* the response: while a connection has output waiting to be sent (the client is
  not keeping up), the bytes the transport sent since the sweep first saw output
  waiting, over the time since then, must reach ``min_response_rate``; below it
  the connection is reset (its answer is half sent: no status can be given).
  This is watched on any connection whose transport tells its progress
  (:class:`SupportsWriteProgress`: relays-sockets' does), whatever its phase, so
  that a connection closing after a big answer is watched too. A transfer by
  ``sendfile`` (a :class:`~relays_http.FileRegion`) is watched the same way: its
  bytes bypass the transport's buffer, so the transport counts each step the
  system takes as sent and the rest of the file as waiting (relays-sockets'
  does), and one read and written (TLS, no ``sendfile``) is ordinary output.

Stopping. The component's ``stopped`` handler runs before the transport's (it
is in the :attr:`relays.Priority` band before) and awaits :meth:`Shutdown.stop`:
idle connections are closed at once; busy ones are marked (``sock.busy``, which
relays-sockets honours by waiting for them) and closed after their response,
which says ``Connection: close``. We wait up to ``shutdown_timeout`` for them,
then cancel what still streams.

Stopping a process (:class:`ProcessStop`, armed by ``Server.run()`` and so by
``relays serve``). A signal reaches the tree only when the loop is free: with
sync handlers that block, every queued request would run first while the
listener kept taking more. So Python-level handlers for SIGTERM and SIGINT sit
beside the loop's own (they run between two bytecodes, even inside a blocking
handler; the loop still sees the signal and stops the tree as usual). The first
signal marks the server stopping, asks the loop to close the listening socket as
soon as it gets control (no new connections: the first step of the stop), and
starts a watchdog: if the process is still stopping ``shutdown_timeout`` plus
:data:`STOP_MARGIN` seconds later, it is ended there and then, with a line that
says so. The same signal again ends it at once. A different one does not: Ctrl-C in
a terminal sends SIGINT to every process of the foreground group, the workers of
``relays serve --workers N`` included, and their supervisor then sends each of them
SIGTERM; that pair is one request to stop, not two.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Collection
from typing import TYPE_CHECKING, Any, Protocol, cast, runtime_checkable

from relays.transports import supports

from ._limits import Limits

if TYPE_CHECKING:
    from relays.transports import Connection

    from ._body import BodyStream
    from ._connection import HTTPConnection

__all__ = [
    "BODY",
    "HANDLING",
    "HEAD",
    "IDLE",
    "Deadlines",
    "ProcessStop",
    "Shutdown",
    "SupportsWriteProgress",
    "loop_clock",
]

logger = logging.getLogger("relays.http")

# Connection phases: which deadline, if any, is running.
HANDLING = 0  # a handler is answering: no deadline
HEAD = 1  # waiting for (the rest of) a request head
BODY = 2  # waiting for more of a request body
IDLE = 3  # keep-alive connection between requests

#: Seconds between two looks for responses still in flight while stopping.
SHUTDOWN_POLL_INTERVAL = 0.02
#: The exit status of a process ended by :class:`ProcessStop` (the shell's status for
#: a process killed by SIGTERM).
EXIT_FORCED = 128 + signal.SIGTERM
#: Seconds a stopping process gets beyond ``shutdown_timeout`` (to close what is left)
#: before :class:`ProcessStop` ends it.
STOP_MARGIN = 2.0
#: Bounds of the time between two sweeps, whatever the timeouts.
SWEEP_INTERVAL_MIN = 0.02
SWEEP_INTERVAL_MAX = 1.0


def loop_clock(loop: asyncio.AbstractEventLoop) -> Callable[[], float]:
    """*loop*'s clock, in the cheapest form that reads the same time.

    asyncio's own loops define ``time()`` as :func:`time.monotonic`: calling that
    C function directly saves a Python call on every timestamp of the hot path
    (a connection takes three or four). Other loops (uvloop) keep their own.
    """
    if type(loop).time is asyncio.BaseEventLoop.time:
        return time.monotonic
    return loop.time


@runtime_checkable
class SupportsWriteProgress(Protocol):
    """A connection that tells how much of its output is sent and how much still waits.

    The minimum response rate is checked on such connections only.
    """

    @property
    def write_buffer_size(self) -> int:
        """Bytes written (or of a file being sent) but not sent yet."""

    @property
    def bytes_sent(self) -> int:
        """Bytes written and sent since the connection opened."""

    def reset(self) -> None:
        """Close at once, dropping the output that waits, the system's included."""


class Deadlines:
    """The clock of one server's connections, and the sweep that expires them.

    *open_connections* returns the connections to check; the sweep runs while
    any are open (:meth:`start` when one opens).
    """

    __slots__ = (
        "_body_rate",
        "_grace",
        "_interval",
        "_open_connections",
        "_response_rate",
        "_sending",
        "_timer",
        "now",
    )

    def __init__(
        self, limits: Limits, open_connections: Callable[[], Collection[HTTPConnection]]
    ) -> None:
        #: The loop's clock (see :func:`loop_clock`), taken when a sweep starts.
        self.now: Callable[[], float] = time.monotonic
        timeouts = [limits.header_timeout, limits.body_timeout, limits.keep_alive_timeout]
        # A few sweeps per shortest timeout (or grace period, when rates are checked),
        # within bounds.
        if limits.min_request_body_rate or limits.min_response_rate:
            timeouts.append(limits.data_rate_grace_period)
        self._interval = min(max(min(timeouts) / 4, SWEEP_INTERVAL_MIN), SWEEP_INTERVAL_MAX)
        self._open_connections = open_connections
        self._timer: asyncio.TimerHandle | None = None
        self._body_rate = limits.min_request_body_rate
        self._response_rate = limits.min_response_rate
        self._grace = limits.data_rate_grace_period
        # Connections seen with output waiting at the last sweep: since when (loop
        # time), and how many bytes they had sent then. Remade by every sweep, so a
        # connection that caught up (or is gone) leaves it.
        self._sending: dict[Connection, tuple[float, int]] = {}

    @property
    def body_clock(self) -> Callable[[], float] | None:
        """The clock a streamed body times its reader's waits with; None when the
        minimum body rate is off (nothing to time)."""
        return self.now if self._body_rate else None

    def body_too_slow(
        self, received: int, since: float, now: float, stream: BodyStream | None = None
    ) -> bool:
        """Whether a request body of which *received* bytes came since *since* (when the
        request's first byte came) is below ``min_request_body_rate``, past the grace
        period; for a *stream*, its bytes over the time its reader waited for them."""
        rate = self._body_rate
        if not rate:
            return False
        if stream is not None:
            elapsed = stream.reader_waited(now)
            received = stream.received
        elif not since:
            return False
        else:
            elapsed = now - since
        return elapsed > self._grace and received < rate * elapsed

    def start(self) -> None:
        """A connection opened: sweep from now on, if not already."""
        if self._timer is None:
            loop = asyncio.get_running_loop()
            self.now = loop_clock(loop)
            self._timer = loop.call_later(self._interval, self.sweep)

    def sweep(self) -> None:
        """Expire the connections past their deadline; run again while any are open."""
        now = self.now()
        connections = self._open_connections()
        if self._response_rate:
            sending: dict[Connection, tuple[float, int]] = {}
            for connection in list(connections):
                connection.expire(now)
                self._watch_output(connection.sock, now, sending)
            self._sending = sending
        else:
            for connection in list(connections):
                connection.expire(now)
        if connections:
            self._timer = asyncio.get_running_loop().call_later(self._interval, self.sweep)
        else:
            self._timer = None

    def _watch_output(
        self, sock: Connection, now: float, sending: dict[Connection, tuple[float, int]]
    ) -> None:
        """Abort *sock* if its client reads its output below ``min_response_rate``;
        note it in *sending* while output waits (see the theory of operation)."""
        if not supports(sock, SupportsWriteProgress):
            return
        progress = cast("SupportsWriteProgress", sock)  # what supports() said
        if not progress.write_buffer_size:
            return  # the client keeps up: nothing to measure
        sent = progress.bytes_sent
        since, sent_then = self._sending.get(sock) or (now, sent)
        elapsed = now - since
        if elapsed > self._grace and sent - sent_then < self._response_rate * elapsed:
            logger.debug(
                "%r read %d bytes in %.1f s, under min_response_rate: dropped",
                sock,
                sent - sent_then,
                elapsed,
            )
            progress.reset()
            return
        sending[sock] = (since, sent_then)

    def stop(self) -> None:
        """No more sweeps (the server stops)."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._sending = {}


class Shutdown:
    """A server's graceful stop: whether it is stopping, and the tasks of its responses.

    A streamed response runs in a task registered here (:meth:`track`), so that a
    stop can cut short what is still streaming once *timeout* seconds are up.
    """

    __slots__ = ("_tasks", "stopping", "timeout")

    def __init__(self, timeout: float) -> None:
        #: Seconds a stop waits for responses in flight before cutting them short.
        self.timeout = timeout
        #: Whether the server is stopping: responses say ``Connection: close``.
        self.stopping = False
        self._tasks: set[asyncio.Task[None]] = set()

    def track(self, task: asyncio.Task[None]) -> None:
        """Cancel *task* if it still runs when a stop's time is up."""
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def stop(self, connections: Collection[HTTPConnection]) -> None:
        """Close idle *connections* now, give busy ones time to finish, cancel the rest.

        *connections* is the live collection: connections leave it as they close.
        """
        self.stopping = True
        # Before the transport's own (later) handler looks: idle connections close
        # now, busy ones once their response is out, and the transport is told to
        # wait for them.
        for connection in list(connections):
            connection.stop()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.timeout
        while any(connection.busy for connection in connections):
            if loop.time() >= deadline:
                logger.warning(
                    "%d response(s) still in flight after %s s; cut short",
                    sum(connection.busy for connection in connections),
                    self.timeout,
                )
                break
            await asyncio.sleep(SHUTDOWN_POLL_INTERVAL)
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)


class ProcessStop:
    """The bounded stop of a process that serves: see the theory of operation.

    :meth:`arm` on the loop once the tree runs (the loop's signal handlers are in
    place then), :meth:`disarm` when the run is over. *stop_listening* closes the
    listening socket (the transport's, when it can).
    """

    SIGNALS = (signal.SIGTERM, signal.SIGINT)

    def __init__(self, shutdown: Shutdown, stop_listening: Callable[[], None] | None) -> None:
        self._shutdown = shutdown
        self._stop_listening = stop_listening
        self._loop: asyncio.AbstractEventLoop | None = None
        # The handlers found when armed (the loop's): armed while not empty.
        self._previous: dict[int, Any] = {}
        self._watchdog: threading.Timer | None = None
        #: Whether a first signal came.
        self.signalled = False
        # Which one: only the same signal again means "stop now".
        self._first: int | None = None

    def arm(self) -> None:
        """Watch SIGTERM and SIGINT (in the main thread only: signals go there)."""
        if threading.current_thread() is not threading.main_thread() or self._previous:
            return
        self._loop = asyncio.get_running_loop()
        for signo in self.SIGNALS:
            self._previous[signo] = signal.signal(signo, self._on_signal)

    def disarm(self) -> None:
        """The run is over: no watchdog, and the signals as they were (unless changed)."""
        if self._watchdog is not None:
            self._watchdog.cancel()
            self._watchdog = None
        for signo in self._previous:
            if signal.getsignal(signo) == self._on_signal:
                # The loop's own handler went with the loop: back to the default.
                default = signal.default_int_handler if signo == signal.SIGINT else signal.SIG_DFL
                signal.signal(signo, default)
        self._previous = {}

    def _on_signal(self, signo: int, frame: Any) -> None:
        # Between two bytecodes of whatever runs: only flags, a thread-safe call and a
        # timer here. The loop sees the signal too, and stops the tree when it can.
        name = signal.Signals(signo).name
        if self.signalled:
            if signo == self._first:
                self._force(f"second {name}: stopping now")
            with contextlib.suppress(OSError):
                first = signal.Signals(self._first or signo).name
                line = (
                    f"relays: {name} after {first}: already stopping ({first} again to stop now)"
                )
                os.write(sys.stderr.fileno(), f"{line}\n".encode())
            return
        self.signalled = True
        self._first = signo
        self._shutdown.stopping = True
        seconds = self._shutdown.timeout + STOP_MARGIN
        # Not through logging, whose locks the interrupted code may hold.
        with contextlib.suppress(OSError):
            os.write(
                sys.stderr.fileno(),
                f"relays: {name}: stopping within {seconds:g} s (again to stop now)\n".encode(),
            )
        loop = self._loop
        if self._stop_listening is not None and loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self._stop_listening)
        watchdog = self._watchdog = threading.Timer(
            seconds, self._force, (f"still stopping {seconds:g} s after {name}: stopping now",)
        )
        watchdog.daemon = True
        watchdog.start()

    @staticmethod
    def _force(why: str) -> None:
        """End the process at once: what still runs (a blocked handler) cannot be waited
        for. Said on stderr directly: logging's locks may be held by the code a signal
        interrupted (log lines are flushed as they are written)."""
        with contextlib.suppress(OSError):
            os.write(sys.stderr.fileno(), f"relays: {why}\n".encode())
        os._exit(EXIT_FORCED)
