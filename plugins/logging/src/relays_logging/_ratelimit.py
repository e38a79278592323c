"""A token bucket, so that a flood of bad requests cannot fill the disk.

The bucket holds at most *burst* tokens and gains *rate* tokens a second. Each line
takes one; a line that finds the bucket empty is counted instead of written. When
lines may be written again, the count goes out first as one summary line, so the
log says how much it left out and when.
"""

from __future__ import annotations

import time
from collections.abc import Callable

__all__ = ["TokenBucket"]


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
