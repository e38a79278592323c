"""Naming a handler that blocks the event loop.

Theory of operation
-------------------
A handler that blocks (``time.sleep``, a synchronous database driver, a long loop) holds
the whole loop: every other connection and timer waits. This module logs a warning that
names the handler, once per handler, when one holds the loop longer than a threshold
(:data:`BLOCKED_LOOP_THRESHOLD`, 100 ms by default).

Nothing on the dispatch path pays for it. Each watched loop runs a *heartbeat*: a timer
callback, every half of the threshold, that writes the time it ran. One daemon thread
(:class:`Watchdog`, one per process, for every loop watched) wakes at the same pace and
reads those times. A loop whose heartbeat is late by more than a beat is stuck in one
callback; the thread then looks at that loop thread's Python stack
(``sys._current_frames()``) for the frame the dispatcher called: the handler (the
frame right below ``Hub._drain``, ``deliver`` or a handler task's driver). When the same
handler call (the same frame object) is still there a threshold after it was first
seen, it is reported. Many short handlers in one long batch are not a blocked loop: the
frame changes between looks, so none is reported. What blocks outside any handler (a
protocol callback, say) is named by its innermost frame outside the standard library.

The cost is one timer callback per loop and one thread wake-up every 50 ms (default), for
the whole process.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
import sysconfig
import threading
import time
from types import CodeType, FrameType

__all__ = ["BLOCKED_LOOP_THRESHOLD", "Watchdog", "blocked_loop_threshold", "watchdog"]

logger = logging.getLogger("relays")

#: Seconds a handler may hold the event loop before it is named in a warning.
BLOCKED_LOOP_THRESHOLD = 0.1
#: Where the standard library lives: not where a blocking call is blamed.
_STDLIB = sysconfig.get_paths()["stdlib"]
#: Heartbeats (and watchdog looks) per threshold.
BEATS_PER_THRESHOLD = 2


def blocked_loop_threshold(configured: float | None) -> float | None:
    """The threshold in use: ``RELAYS_BLOCKED_LOOP_MS`` when set (``0`` turns the
    warning off), else *configured* (None turns it off)."""
    text = os.environ.get("RELAYS_BLOCKED_LOOP_MS", "")
    if text:
        try:
            milliseconds = float(text)
        except ValueError:
            raise ValueError(
                f"RELAYS_BLOCKED_LOOP_MS must be a number of milliseconds, not {text!r}"
            ) from None
        return milliseconds / 1000 if milliseconds > 0 else None
    return configured


class _Watched:
    """One watched loop: its heartbeat, and what the watchdog saw of it."""

    def __init__(self, loop: asyncio.AbstractEventLoop, threshold: float) -> None:
        self.loop = loop
        self.thread_id = threading.get_ident()
        self.threshold = threshold
        self.interval = threshold / BEATS_PER_THRESHOLD
        self.users = 1
        self.last_beat = time.monotonic()
        self.timer: asyncio.TimerHandle | None = None
        #: The call suspected of blocking, and when the watchdog first saw it.
        self.suspect: FrameType | None = None
        self.suspect_since = 0.0
        self.beat()

    def beat(self) -> None:
        self.last_beat = time.monotonic()
        self.timer = self.loop.call_later(self.interval, self.beat)

    def stop(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None


class Watchdog:
    """The process's one watchdog thread and the loops it watches.

    Loops are added and removed from their own threads; the thread only reads.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._watched: dict[asyncio.AbstractEventLoop, _Watched] = {}
        self._thread: threading.Thread | None = None
        self._wake = threading.Event()
        #: Handlers already named: each is reported once per process.
        self._reported: set[str] = set()
        #: How many times a call was found holding a loop past its threshold, reported
        #: or not (tests wait on it instead of on the clock).
        self.blocks_seen = 0
        self._dispatch_codes: frozenset[CodeType] | None = None

    def watch(self, loop: asyncio.AbstractEventLoop, threshold: float) -> None:
        """Watch *loop* (the running one, from its thread) until :meth:`unwatch`."""
        with self._lock:
            watched = self._watched.get(loop)
            if watched is not None:
                watched.users += 1
                return
            self._watched[loop] = _Watched(loop, threshold)
            if self._thread is None or not self._thread.is_alive():
                self._wake.clear()
                self._thread = threading.Thread(
                    target=self._run, name="relays-watchdog", daemon=True
                )
                self._thread.start()

    def unwatch(self, loop: asyncio.AbstractEventLoop) -> None:
        with self._lock:
            watched = self._watched.get(loop)
            if watched is None:
                return
            watched.users -= 1
            if watched.users:
                return
            watched.stop()
            del self._watched[loop]
            if not self._watched:
                self._wake.set()  # nothing left to watch: the thread ends

    def _run(self) -> None:
        while True:
            with self._lock:
                if not self._watched:
                    self._thread = None
                    return
                watched = list(self._watched.values())
                interval = min(w.interval for w in watched)
            if self._wake.wait(interval):
                self._wake.clear()
                continue
            now = time.monotonic()
            for w in watched:
                self._look(w, now)

    def _look(self, watched: _Watched, now: float) -> None:
        if now - watched.last_beat < 2 * watched.interval:
            watched.suspect = None  # the loop turns
            return
        frame = sys._current_frames().get(watched.thread_id)
        if frame is None:
            return
        suspect = self._handler_frame(frame)
        if suspect is not watched.suspect:
            watched.suspect = suspect
            watched.suspect_since = now
            return
        if now - watched.suspect_since + watched.interval < watched.threshold:
            return
        name = _name_of(suspect)
        watched.suspect = None
        self.blocks_seen += 1
        if name in self._reported:
            return
        self._reported.add(name)
        logger.warning(
            "%s has held the event loop for more than %.0f ms: every other connection, "
            "timer and event waited. Run blocking code in a thread "
            '(@handler("...", thread=True)) or make it async. (Reported once per handler; '
            "the threshold is RELAYS_BLOCKED_LOOP_MS.)",
            name,
            watched.threshold * 1000,
        )

    def _handler_frame(self, frame: FrameType) -> FrameType:
        """The frame the dispatcher called (the handler's), else the innermost one."""
        codes = self._dispatch_codes
        if codes is None:
            codes = self._dispatch_codes = _dispatch_codes()
        innermost_own: FrameType | None = None  # the innermost frame outside the stdlib
        current: FrameType | None = frame
        while current is not None:
            caller = current.f_back
            if caller is not None and caller.f_code in codes:
                return current
            if innermost_own is None and not current.f_code.co_filename.startswith(_STDLIB):
                innermost_own = current
            current = caller
        return innermost_own or frame


def _dispatch_codes() -> frozenset[CodeType]:
    """The code of the functions that call handlers."""
    from . import _dispatch, _generators

    return frozenset(
        {
            _dispatch.Hub._drain.__code__,
            _dispatch.Hub._drive.__code__,
            _dispatch.deliver.__code__,
            _generators.drive.__code__,  # a generator handler's steps
        }
    )


def _name_of(frame: FrameType) -> str:
    code = frame.f_code
    qualname = getattr(code, "co_qualname", code.co_name)
    module = frame.f_globals.get("__name__", "?")
    return f"{module}.{qualname} ({code.co_filename}:{code.co_firstlineno})"


#: The process's watchdog (its thread runs only while a loop is watched).
watchdog = Watchdog()
