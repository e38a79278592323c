"""Live figures: event counts, handler time, queue depth, connections, requests per second.

Theory of operation
-------------------
Like the event stream, the figures are gathered only while a page watches: the
listener of :mod:`relays_inspector._stream` is in the tree then, and it tells
:class:`Figures` about each event twice. Its first ``*`` handler runs just below
:attr:`~relays.Priority.INSPECT` (after the stream's record, so that is not counted),
its last one at the very end (below :attr:`~relays.Priority.LAST`), and the time
between the two is the event's *handler time*: what its synchronous handlers took
(an ``async def`` handler counts up to its first ``await``, the part that holds the
loop). The same first handler counts the event by name, counts ``request`` events
for requests per second, and notes the tree's queue depth (``len(root)``: events
fired and not yet dispatched), keeping the highest seen in the current second.

Once a second :meth:`Figures.sample` closes the second: it reads the open
connections of the server (when there is one), appends one point to each time
series (bounded to :attr:`FigureLimits.points`) and returns everything the page
draws. Times are bucketed in a fixed histogram (:data:`HISTOGRAM_BOUNDS`), so a
flood costs a comparison chain per event and no memory.
"""

from __future__ import annotations

import time
from bisect import bisect_left
from collections import Counter, deque
from collections.abc import Callable
from typing import Any

import attrs

__all__ = ["HISTOGRAM_BOUNDS", "FigureLimits", "Figures"]

#: Upper bounds of the handler-time buckets, in seconds (the last bucket is "more").
HISTOGRAM_BOUNDS: tuple[float, ...] = (
    10e-6, 20e-6, 50e-6, 100e-6, 200e-6, 500e-6, 1e-3, 2e-3, 5e-3, 10e-3, 50e-3, 100e-3,
)  # fmt: skip


@attrs.frozen
class FigureLimits:
    """Bounds of the live figures.

    *interval*: seconds between two samples (a point of each time series);
    *points*: samples kept per time series (two minutes, at one a second);
    *names*: event names counted separately (later new names count as ``(other)``).
    """

    interval: float = 1.0
    points: int = 120
    names: int = 200

    def __attrs_post_init__(self) -> None:
        if not self.interval > 0:
            raise ValueError(f"FigureLimits.interval must be > 0 seconds, not {self.interval}")
        if self.points < 2:
            raise ValueError(f"FigureLimits.points must be 2 or more, not {self.points}")
        if self.names < 1:
            raise ValueError(f"FigureLimits.names must be 1 or more, not {self.names}")


class Figures:
    """The figures of one tree while a page watches (see the module's description).

    *queue_depth* and *connections* are asked once per event and once a second;
    *connections* gives None when the tree has no HTTP server.
    """

    def __init__(
        self,
        limits: FigureLimits,
        queue_depth: Callable[[], int],
        connections: Callable[[], int | None],
    ) -> None:
        self.limits = limits
        self._queue_depth = queue_depth
        self._connections = connections
        self._counts: Counter[str] = Counter()
        self._histogram = [0] * (len(HISTOGRAM_BOUNDS) + 1)
        self._event: object = None
        self._started = 0.0
        self._requests = 0
        self._deepest = 0
        self._since = time.monotonic()
        self._series: dict[str, deque[float]] = {
            name: deque(maxlen=limits.points)
            for name in ("time", "requests_per_second", "queue_depth", "connections")
        }

    def event_started(self, event: object, name: str) -> None:
        """Count *event* (named *name*) and start its handler clock."""
        counts = self._counts
        if name in counts or len(counts) < self.limits.names:
            counts[name] += 1
        else:
            counts["(other)"] += 1
        if name == "request":
            self._requests += 1
        depth = self._queue_depth()
        if depth > self._deepest:
            self._deepest = depth
        self._event = event
        self._started = time.perf_counter()

    def event_finished(self, event: object) -> None:
        """Stop *event*'s handler clock, and bucket the time."""
        if event is not self._event:
            return  # its start was before the listener came, or another event came between
        elapsed = time.perf_counter() - self._started
        self._event = None
        self._histogram[bisect_left(HISTOGRAM_BOUNDS, elapsed)] += 1

    def sample(self) -> dict[str, Any]:
        """Close the current second; everything the page draws, as JSON-able values."""
        now = time.monotonic()
        seconds = max(now - self._since, 1e-9)
        connections = self._connections()
        series = self._series
        series["time"].append(time.time())
        series["requests_per_second"].append(round(self._requests / seconds, 2))
        series["queue_depth"].append(max(self._deepest, self._queue_depth()))
        series["connections"].append(-1 if connections is None else connections)
        self._requests = 0
        self._deepest = 0
        self._since = now
        return {
            "counts": dict(self._counts.most_common()),
            "histogram": {
                "bounds": list(HISTOGRAM_BOUNDS),
                "counts": list(self._histogram),
            },
            "series": {name: list(values) for name, values in series.items()},
            "has_server": connections is not None,
        }
