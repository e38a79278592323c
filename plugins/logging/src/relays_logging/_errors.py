"""The error log: unhandled exceptions with tracebacks, and rate-limited bad requests.

Unhandled exceptions arrive as the kernel's ``exception`` events (on every
channel). A component that listens for them takes over from the kernel's own
last-resort logging, so :class:`ErrorLog` logs them, by kind: the same exception
type raised at the same place (the innermost frame of its traceback) is one kind,
and a :class:`RepeatLimiter` lets the first of a kind out whole, with its
traceback, and then one line per *repeat_interval* with the count while it goes
on (a handler failing on every request writes a line every ten seconds, not a
traceback per request). A failing ``request`` handler (relays-http answers it
with a 500) is logged with the request line and the client's address; an
:class:`~relays_http.HTTPError` is an answer, not a failure, and fires no
``exception`` event at all.

Bad requests (a malformed head, a body too large, a timeout) are the client's
fault, and a client can send a great many of them. relays-http refuses them
before any handler runs and fires ``bad_request(sock, status, reason,
request_line)`` (:class:`~relays_http.BadRequestEvent`), which :class:`ErrorLog`
listens for on every channel and hands to :meth:`ErrorLog.bad_request`. It
writes one WARNING line per bad request, through a :class:`TokenBucket`: past the
burst, lines are counted instead, and a summary ("suppressed N bad-request lines
in the last S s") goes out as soon as the bucket has a token again, or after
*summary_delay* seconds when no further bad request comes along.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Hashable, Sequence
from typing import Any

from relays import BaseComponent, handler
from relays.transports import Connection
from relays_http import RequestEvent

from ._formats import escape
from ._ratelimit import REPEAT_INTERVAL, RepeatFilter, RepeatLimiter, TokenBucket, Verdict

__all__ = ["ErrorLog"]


class ErrorLog(BaseComponent):
    """Log unhandled exceptions and bad requests to *logger* (default ``relays.error``).

    *rate* and *burst* bound the bad-request lines (per second, and at once);
    repeats of an exception are written once per *repeat_interval* seconds, as a
    count; the counts pending in *repeat_filters* (:class:`RepeatFilter`) are written
    when the tree stops; *clock* is the limiters' clock, for tests.
    """

    def __init__(
        self,
        *,
        logger: logging.Logger | str = "relays.error",
        rate: float = 10.0,
        burst: int = 50,
        summary_delay: float = 10.0,
        repeat_interval: float = REPEAT_INTERVAL,
        repeat_filters: Sequence[RepeatFilter] = (),
        clock: Callable[[], float] | None = None,
        channel: Any = "*",
    ) -> None:
        super().__init__(channel=channel)
        #: The logger errors go to.
        self.logger = logging.getLogger(logger) if isinstance(logger, str) else logger
        #: The limiter of bad-request lines.
        self.bucket = (
            TokenBucket(rate, burst) if clock is None else TokenBucket(rate, burst, clock=clock)
        )
        #: Seconds after which suppressed lines are summarised even if none follow.
        self.summary_delay = summary_delay
        self._summary_timer: asyncio.TimerHandle | None = None
        #: The limiter of repeated exceptions, by kind.
        self.repeats = (
            RepeatLimiter(repeat_interval)
            if clock is None
            else RepeatLimiter(repeat_interval, clock=clock)
        )
        self._repeats_timer: asyncio.TimerHandle | None = None
        #: Log filters whose pending counts are written when the tree stops.
        self.repeat_filters = tuple(repeat_filters)

    @handler("exception", channel="*")
    def _on_exception(
        self,
        error_type: type[BaseException],
        error: BaseException,
        traceback: list[str],
        handler: Any = None,
        fevent: Any = None,
    ) -> None:
        trace = "".join(traceback).rstrip("\n")
        kind = (error_type.__name__, _origin(traceback))
        verdict = self.repeats.check(kind)
        if verdict is Verdict.COUNTED:
            self._schedule_repeats()
            return
        if verdict is Verdict.SUMMARY:
            count, seconds = self.repeats.last_summary
            self._log_repeats(kind, count, seconds, error)
            return
        if isinstance(fevent, RequestEvent) and fevent.args:
            request = fevent.args[0]
            remote = request.remote
            client = remote[0] if isinstance(remote, tuple) and remote else remote
            self.logger.error(
                'request handler failed for "%s" from %s: %s: %s\n%s',
                escape(f"{request.method} {request.target} HTTP/{request.http_version}"),
                escape(str(client)) if client else "-",
                error_type.__name__,
                error,
                trace,
                extra=_LIMITED,
            )
            return
        where = f" in {handler!r}" if handler is not None else ""
        self.logger.error(
            "unhandled %s%s: %s\n%s", error_type.__name__, where, error, trace, extra=_LIMITED
        )

    def _log_repeats(
        self, kind: Hashable, count: int, seconds: float, last: BaseException | None = None
    ) -> None:
        if isinstance(kind, tuple):
            name, origin = kind
        else:  # new kinds past the limiter's table size share one count
            name, origin = "exceptions of other kinds", "various places"
        latest = f" (the latest: {escape(str(last))})" if last is not None else ""
        self.logger.error(
            "%s raised %d more times in the last %.1f s at %s%s; the first was logged with "
            "its traceback",
            name,
            count,
            seconds,
            origin,
            latest,
            extra=_LIMITED,
        )

    def _schedule_repeats(self) -> None:
        if self._repeats_timer is not None:
            return
        delay = self.repeats.next_due()
        if delay is None:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return  # no loop: the next exception or stop writes the count
        self._repeats_timer = loop.call_later(delay, self._repeats_due)

    def _repeats_due(self) -> None:
        self._repeats_timer = None
        for kind, count, seconds in self.repeats.take_due():
            self._log_repeats(kind, count, seconds)
        self._schedule_repeats()

    @handler("bad_request", channel="*")
    def _on_bad_request(
        self, sock: Connection, status: int, reason: str, request_line: bytes | None
    ) -> None:
        self.bad_request(sock.peer, status, reason, request_line or b"")

    def bad_request(
        self, client: Any, status: int, reason: str, request_line: bytes = b""
    ) -> bool:
        """Log that *client* sent a bad request, answered with *status* because of
        *reason*; False when the line was suppressed by the rate limit."""
        if not self.bucket.allow():
            self._schedule_summary()
            return False
        self.flush()
        host = client[0] if isinstance(client, tuple) and client else client
        shown = escape(str(host)) if host else "-"
        line = f' "{escape(request_line)}"' if request_line else ""
        self.logger.warning(
            "bad request from %s: %d %s%s", shown, status, escape(reason), line, extra=_LIMITED
        )
        return True

    def flush(self) -> None:
        """Write the summary of suppressed lines now, if any were."""
        count, seconds = self.bucket.take_suppressed()
        if count:
            self.logger.warning(
                "suppressed %d bad-request lines in the last %.1f s",
                count,
                seconds,
                extra=_LIMITED,
            )
        if self._summary_timer is not None:
            self._summary_timer.cancel()
            self._summary_timer = None

    def _schedule_summary(self) -> None:
        if self._summary_timer is not None:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return  # no loop: the next line or stop writes the summary
        self._summary_timer = loop.call_later(self.summary_delay, self._summary_due)

    def _summary_due(self) -> None:
        self._summary_timer = None
        self.flush()

    @handler("stopped", channel="*")
    def _on_stopped(self, component: BaseComponent) -> None:
        if component is self.root:
            self.flush()
            if self._repeats_timer is not None:
                self._repeats_timer.cancel()
                self._repeats_timer = None
            for kind, count, seconds in self.repeats.take_all():
                self._log_repeats(kind, count, seconds)
            for repeat_filter in self.repeat_filters:
                repeat_filter.flush()


#: Marks our records for :class:`RepeatFilter`: limited here already, by a finer kind.
_LIMITED = {"relays_limited": True}


def _origin(traceback: list[str]) -> str:
    """Where an exception was raised: the innermost ``File "...", line N, in f`` of its
    formatted traceback, or ``"?"``."""
    for line in reversed(traceback):
        text = line.strip()
        if text.startswith("File "):
            return text.splitlines()[0]
    return "?"
