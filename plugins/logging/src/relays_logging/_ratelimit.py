"""Two limiters, so that a flood of bad requests or errors cannot fill the disk.

:class:`TokenBucket` bounds a stream of lines that are all alike (bad requests):
the bucket holds at most *burst* tokens and gains *rate* tokens a second. Each line
takes one; a line that finds the bucket empty is counted instead of written. When
lines may be written again, the count goes out first as one summary line, so the
log says how much it left out and when.

:class:`RepeatLimiter` bounds repeats by kind (errors: the same exception raised at
the same place, the same message logged again): the first of a kind is written
whole, traceback and all, and then only a count per interval while it goes on, so
one failing store or handler writes a line every few seconds, not one per request,
while a different error is still written whole at once.
"""

from __future__ import annotations

import enum
import logging
import time
from collections.abc import Callable, Hashable

__all__ = [
    "MAX_KINDS",
    "OTHER_KINDS",
    "REPEAT_INTERVAL",
    "RepeatLimiter",
    "TokenBucket",
    "Verdict",
]


class TokenBucket:
    """Allow *rate* events a second on average, and bursts of up to *burst*.

    *clock* returns seconds (monotonic); tests pass a fake one.
    """

    def __init__(
        self,
        rate: float = 10.0,
        burst: int = 50,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if rate <= 0:
            raise ValueError(f"rate must be more than 0 lines a second, not {rate}")
        if burst < 1:
            raise ValueError(f"burst must be at least 1 line, not {burst}")
        #: Tokens gained per second.
        self.rate = float(rate)
        #: The most tokens the bucket holds.
        self.burst = burst
        self._clock = clock
        self._tokens = float(burst)
        self._updated = clock()
        #: Events refused since the last :meth:`take_suppressed`.
        self.suppressed = 0
        self._suppressed_since: float | None = None

    def _refill(self) -> float:
        now = self._clock()
        elapsed = now - self._updated
        if elapsed > 0:
            self._tokens = min(float(self.burst), self._tokens + elapsed * self.rate)
            self._updated = now
        return now

    def allow(self) -> bool:
        """Take a token if there is one; otherwise count the event as suppressed."""
        now = self._refill()
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return True
        if self.suppressed == 0:
            self._suppressed_since = now
        self.suppressed += 1
        return False

    def take_suppressed(self) -> tuple[int, float]:
        """``(count, seconds)``: events suppressed and over how long; resets the count."""
        count = self.suppressed
        if count == 0 or self._suppressed_since is None:
            return 0, 0.0
        seconds = max(self._clock() - self._suppressed_since, 0.0)
        self.suppressed = 0
        self._suppressed_since = None
        return count, seconds

    def seconds_until_token(self) -> float:
        """How long until :meth:`allow` would succeed."""
        self._refill()
        missing = 1.0 - self._tokens
        return max(missing / self.rate, 0.0)


class Verdict(enum.Enum):
    """What to do with one occurrence of a kind of error (see :class:`RepeatLimiter`)."""

    #: Log it whole (with its traceback): the first of its kind for a while.
    WHOLE = "whole"
    #: Count it: one of its kind was logged less than an interval ago.
    COUNTED = "counted"
    #: Log one line saying how many of its kind came since the last line (see
    #: :attr:`RepeatLimiter.last_summary`); this occurrence is among them.
    SUMMARY = "summary"


#: Seconds during which repeats of a kind are counted rather than logged.
REPEAT_INTERVAL = 10.0
#: Most kinds tracked at once; beyond it, new kinds share one count.
MAX_KINDS = 1000


class _Kind:
    __slots__ = ("count", "started")

    def __init__(self, started: float) -> None:
        self.started = started  # when the current interval began
        self.count = 0  # occurrences counted in it


class RepeatLimiter:
    """First one whole, then a count per interval, for each *kind* of error.

    A kind is any hashable key (an exception type and where it was raised, a log
    message template). The first occurrence of a kind is :attr:`Verdict.WHOLE` and
    opens an interval of *interval* seconds; repeats within it are
    :attr:`Verdict.COUNTED`. The first repeat after the interval is
    :attr:`Verdict.SUMMARY` (log one line with the count) and opens the next
    interval, so a flood that goes on writes one line per interval; a kind quiet for
    a whole interval is logged whole again. At most *max_kinds* kinds are tracked;
    when that many are in their interval, a new kind is counted under
    :data:`OTHER_KINDS`. *clock* returns seconds (monotonic); tests pass a fake one.
    """

    def __init__(
        self,
        interval: float = REPEAT_INTERVAL,
        *,
        max_kinds: int = MAX_KINDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if interval <= 0:
            raise ValueError(f"interval must be more than 0 seconds, not {interval}")
        if max_kinds < 1:
            raise ValueError(f"max_kinds must be at least 1, not {max_kinds}")
        #: Seconds during which repeats of a kind are counted.
        self.interval = float(interval)
        #: Most kinds tracked at once.
        self.max_kinds = max_kinds
        self._clock = clock
        self._kinds: dict[Hashable, _Kind] = {}
        #: ``(count, seconds)`` of the last :attr:`Verdict.SUMMARY`.
        self.last_summary: tuple[int, float] = (0, 0.0)

    def check(self, kind: Hashable) -> Verdict:
        """The verdict for one occurrence of *kind*."""
        now = self._clock()
        state = self._kinds.get(kind)
        full = state is None and len(self._kinds) >= self.max_kinds
        if full and not self._forget_quiet(now):
            kind = OTHER_KINDS
            state = self._kinds.get(kind)
        if state is None:
            self._kinds[kind] = _Kind(now)
            return Verdict.WHOLE
        if now - state.started < self.interval:
            state.count += 1
            return Verdict.COUNTED
        count, since = state.count, state.started
        state.started, state.count = now, 0
        if count == 0:
            return Verdict.WHOLE  # quiet for a whole interval: a fresh start
        self.last_summary = (count + 1, now - since)
        return Verdict.SUMMARY

    def take_due(self) -> list[tuple[Hashable, int, float]]:
        """``(kind, count, seconds)`` of every kind whose interval is over with repeats
        counted; each starts a new interval. For a timer, so that the count of a flood
        that stopped is still written."""
        now = self._clock()
        due = []
        for kind, state in self._kinds.items():
            if state.count and now - state.started >= self.interval:
                due.append((kind, state.count, now - state.started))
                state.started, state.count = now, 0
        return due

    def next_due(self) -> float | None:
        """Seconds until the first kind with repeats counted is due, or None: when a
        timer should call :meth:`take_due` next."""
        now = self._clock()
        due = [
            state.started + self.interval - now for state in self._kinds.values() if state.count
        ]
        return max(min(due), 0.0) if due else None

    def take_all(self) -> list[tuple[Hashable, int, float]]:
        """Like :meth:`take_due`, for every kind with repeats counted, due or not (on stop)."""
        now = self._clock()
        counted = [
            (kind, state.count, now - state.started)
            for kind, state in self._kinds.items()
            if state.count
        ]
        self._kinds.clear()
        return counted

    def _forget_quiet(self, now: float) -> bool:
        """Drop kinds whose interval is over with nothing counted; whether any went."""
        quiet = [
            kind
            for kind, state in self._kinds.items()
            if not state.count and now - state.started >= self.interval
        ]
        for kind in quiet:
            del self._kinds[kind]
        return bool(quiet)


#: The kind under which new kinds are counted while :data:`MAX_KINDS` are tracked.
OTHER_KINDS = "(other kinds)"


class RepeatFilter(logging.Filter):
    """A :mod:`logging` filter for *handler*: repeated records written once per interval.

    Records at *level* (WARNING) or above are limited by kind (logger, level, message
    template and exception type) with a :class:`RepeatLimiter`: the first of a kind
    goes through whole, repeats within *interval* seconds are dropped and counted,
    and the first repeat after it goes out as one line, without its traceback, saying
    how many there were. Records below *level*, and records that say they are
    limited already (``extra={"relays_limited": True}``, as :class:`ErrorLog`'s do),
    pass untouched. Adds itself to *handler*.
    """

    def __init__(
        self,
        handler: logging.Handler,
        *,
        interval: float = REPEAT_INTERVAL,
        level: int = logging.WARNING,
        max_kinds: int = MAX_KINDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__()
        self.handler = handler
        self.level = level
        self.limiter = RepeatLimiter(interval, max_kinds=max_kinds, clock=clock)
        # The latest counted record of each kind, for the count :meth:`flush` writes;
        # at most ``max_kinds`` (beyond, the limiter counts new kinds together anyway).
        self._latest: dict[Hashable, logging.LogRecord] = {}
        handler.addFilter(self)

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < self.level or getattr(record, "relays_limited", False):
            return True
        error_type = record.exc_info[0] if record.exc_info else None
        kind = (record.name, record.levelno, str(record.msg), error_type)
        verdict = self.limiter.check(kind)
        if verdict is Verdict.WHOLE:
            return True
        if verdict is Verdict.COUNTED:
            if kind in self._latest or len(self._latest) < self.limiter.max_kinds:
                self._latest[kind] = record
            return False
        self._latest.pop(kind, None)
        count, seconds = self.limiter.last_summary
        self._write_count(record, count, seconds, "times")
        return False

    def flush(self) -> None:
        """Write the counts still pending (repeats since the last line of their kind).

        :class:`ErrorLog` calls it when its tree stops, for the filters it is given;
        call it yourself before a program that uses the filter alone exits.
        """
        for kind, count, seconds in self.limiter.take_all():
            latest = self._latest.pop(kind, None)
            if latest is not None:
                self._write_count(latest, count, seconds, "more times")
            else:  # new kinds past the table size, counted together
                other = logging.makeLogRecord(
                    {
                        "name": "relays",
                        "levelno": logging.WARNING,
                        "levelname": "WARNING",
                        "msg": "%d more warnings and errors of other kinds in the last %.1f s",
                        "args": (count, seconds),
                        "relays_limited": True,
                    }
                )
                self.handler.handle(other)
        self._latest.clear()

    def _write_count(
        self, record: logging.LogRecord, count: int, seconds: float, what: str
    ) -> None:
        """*record*'s message, without its traceback, with how often it came."""
        fields = dict(record.__dict__)
        fields.update(
            msg="%s [%d %s in the last %.1f s; the first was logged in full]",
            args=(record.getMessage(), count, what, seconds),
            exc_info=None,
            exc_text=None,
            stack_info=None,
            relays_limited=True,
        )
        self.handler.handle(logging.makeLogRecord(fields))
