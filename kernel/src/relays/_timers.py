"""Timers: fire an event after a number of seconds, once or periodically.

A timer schedules itself with ``loop.call_later`` when its tree runs (on ``started``,
or on ``registered`` into a tree already running) and cancels the handle when it is
unregistered or the tree stops, so an idle application never wakes up to poll.
"""

from __future__ import annotations

import copy
import time
from datetime import datetime
from typing import Any, Self

from ._components import BaseComponent
from ._events import Event
from ._handlers import handler

__all__ = ["Timer"]


class Timer(BaseComponent):
    """Fire *event* on *channels* after *interval* seconds (or at a ``datetime``).

    With ``persist=True`` it fires every *interval* seconds until unregistered. Each
    periodic firing uses a fresh copy of *event*, so every one has its own value.
    Without *channels* the event goes to every channel (``"*"``).
    """

    channel = "timer"

    def __init__(
        self,
        interval: float | datetime,
        event: Event,
        *channels: Any,
        persist: bool = False,
        channel: Any = "timer",
    ) -> None:
        super().__init__(channel=channel)
        if isinstance(interval, datetime):
            interval = max(0.0, interval.timestamp() - time.time())
        if interval < 0:
            raise ValueError(f"interval must be zero or more seconds, not {interval!r}")
        self.interval = float(interval)
        self.event = event
        self.channels = channels or ("*",)
        self.persist = persist
        self.expiry: float | None = None
        self._handle: Any = None
        self._fired = False

    @handler("started", channel="*", priority=100)
    def _on_started(self, component: BaseComponent) -> None:
        if component is self.root:
            self.reset()

    def register(self, parent: BaseComponent) -> Self:
        super().register(parent)
        if self.running and self._handle is None:
            self.reset()  # at once, so a cancel() right after registering holds
        return self

    @handler("registered", channel="*", priority=100)
    def _on_registered(self, component: BaseComponent, parent: BaseComponent) -> None:
        # A subtree holding this timer joined a running tree.
        joined = component is not self and self._handle is None and self.running
        if joined and any(node is self for node in component.walk()):
            self.reset()

    @handler("unregistered", channel="*", priority=100)
    def _on_unregistered(self, component: BaseComponent, parent: BaseComponent) -> None:
        if component is self:
            self.cancel()

    @handler("stopped", channel="*", priority=-100)
    def _on_stopped(self, component: BaseComponent) -> None:
        self.cancel()

    def reset(self, interval: float | None = None) -> None:
        """(Re)start the countdown, optionally with a new *interval*."""
        if interval is not None:
            self.interval = float(interval)
        self.cancel()
        loop = self._hub.loop
        if loop is None:
            return  # scheduled on ``started``
        self.expiry = time.time() + self.interval
        self._handle = loop.call_later(self.interval, self._expire)

    def cancel(self) -> None:
        """Stop the countdown; the event is not fired."""
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None
        self.expiry = None

    def _expire(self) -> None:
        self._handle = None
        event = copy.copy(self.event) if self._fired else self.event
        self._fired = True
        self.fire(event, *self.channels)
        if self.persist:
            self.reset()
        else:
            self.expiry = None
