"""The live event stream: a tap that exists only while someone watches.

Theory of operation
-------------------
Watching every event costs a handler call per event, so nothing of the kind is in
the tree while nobody watches. :class:`EventTap` owns the set of watchers
(:class:`Subscription`). The first :meth:`EventTap.subscribe` registers a small
component, :class:`_Listener`, with one ``*`` handler on every channel at
:attr:`relays.Priority.INSPECT`, as the Debugger listens; the last
:meth:`EventTap.unsubscribe` unregisters it. With no page open the app dispatches
exactly as if the inspector were not there, apart from its one ``request`` handler.

A subscription is a bounded buffer, not a queue that grows: the listener offers
each event to every subscription, and an event that finds the buffer full is only
counted as dropped (before any text is made of it, so a flood costs a counter
increment per event). The page's stream takes the whole buffer at most every
``interval`` seconds and sends it as one message with the dropped count. So at 10k
events per second a page sees a sample of them and a number saying how many it
missed, while the app never waits for the browser.

While a page watches, the listener also feeds the live figures
(:mod:`relays_inspector._figures`), sampled once a second and sent with the next
message.

Records are plain dicts of text, made at the moment of the event (``repr`` of the
event, cut to ``trim`` characters), so nothing the app owns is held or touched
later from the stream. Errors (``exception`` events) carry their traceback, with the
files under the server's working directory named relative to it (shorter lines, and a
page or a screenshot of it shows no more of the machine's layout than it needs); the
stream is behind the inspector's token like every other page of it.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import attrs

from relays import BaseComponent, Event, ExceptionEvent, Priority, handler

from ._figures import FigureLimits, Figures
from ._tree import channel_label

__all__ = ["EventTap", "StreamLimits", "Subscription"]


@attrs.frozen
class StreamLimits:
    """Bounds of one page's event stream.

    *buffer*: events held between two sends (more are counted as dropped);
    *interval*: seconds between two sends, at least (the page's refresh pace);
    *trim*: characters of an event's text kept (``...`` marks the cut);
    *keep_alive*: seconds of silence after which a comment is sent. An HTTP/1.1 server
    learns that a client left only when it writes to it, so this is also how long the
    listener may stay after the last page closed.
    """

    buffer: int = 500
    interval: float = 0.1
    trim: int = 300
    keep_alive: float = 5.0

    def __attrs_post_init__(self) -> None:
        if self.buffer < 1:
            raise ValueError(f"StreamLimits.buffer must be 1 or more events, not {self.buffer}")
        if not self.interval >= 0:
            raise ValueError(
                f"StreamLimits.interval must be 0 or more seconds, not {self.interval}"
            )
        if not self.keep_alive > 0:
            raise ValueError(f"StreamLimits.keep_alive must be > 0 seconds, not {self.keep_alive}")
        if self.trim < 1:
            raise ValueError(f"StreamLimits.trim must be 1 or more characters, not {self.trim}")


class Subscription:
    """One watcher's bounded buffer of event records, with a filter and a dropped count.

    *names* and *channels*, when not empty, keep only events of those names and events
    fired on one of those channels.
    """

    def __init__(
        self,
        limits: StreamLimits,
        *,
        names: frozenset[str] = frozenset(),
        channels: frozenset[str] = frozenset(),
    ) -> None:
        self.limits = limits
        self.names = names
        self.channels = channels
        self._records: list[dict[str, Any]] = []
        self._dropped = 0
        self._sent = 0
        self._waiting: asyncio.Event = asyncio.Event()
        self._ended = False
        self._figures: dict[str, Any] | None = None

    def offer(self, event: Event, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        """Keep a record of *event* if it passes the filter and the buffer has room."""
        if self.names and event.name not in self.names:
            return
        if self.channels and not any(
            channel_label(channel) in self.channels for channel in event.channels
        ):
            return
        if len(self._records) >= self.limits.buffer:
            self._dropped += 1
            return
        self._records.append(_record(event, args, kwargs, self.limits.trim))
        self._waiting.set()

    def publish(self, figures: dict[str, Any]) -> None:
        """Send the latest live figures with the next message (a newer sample replaces it)."""
        self._figures = figures
        self._waiting.set()

    def take(self) -> dict[str, Any]:
        """The message for the page: the records so far, the counts, and new figures."""
        records, self._records = self._records, []
        self._sent += len(records)
        self._waiting.clear()
        message = {"events": records, "dropped": self._dropped, "sent": self._sent}
        if self._figures is not None:
            message["figures"], self._figures = self._figures, None
        return message

    def end(self) -> None:
        """End :meth:`batches` (the server stops: its streams must not hold it up)."""
        self._ended = True
        self._waiting.set()

    async def batches(self) -> AsyncIterator[dict[str, Any]]:
        """Messages for the page, one whenever records arrived, at most one per interval."""
        yield {"events": [], "dropped": 0, "sent": 0}  # the page knows it is connected
        while True:
            await self._waiting.wait()
            if self._ended:
                return
            yield self.take()
            if self.limits.interval:
                await asyncio.sleep(self.limits.interval)  # the pace of the page, not a wait


def relative_files(text: str, folder: str) -> str:
    """*text* (a traceback, or an event's repr holding one) with the files of its frames
    under *folder* named relative to it; other files as they are."""
    return text.replace(f'File "{os.path.join(folder, "")}', 'File "')


def _record(
    event: Event, args: tuple[Any, ...], kwargs: dict[str, Any], trim: int
) -> dict[str, Any]:
    text = repr(event)
    if type(event) is ExceptionEvent:
        text = relative_files(text, os.getcwd())
    if len(text) > trim:
        text = text[:trim] + "..."
    record: dict[str, Any] = {
        "time": time.time(),
        "name": event.name,
        "channels": [channel_label(channel) for channel in event.channels],
        "text": text,
    }
    if type(event) is ExceptionEvent and len(args) >= 3:
        error_type, error, lines = args[:3]
        record["error"] = f"{getattr(error_type, '__name__', error_type)}: {error}"
        traceback = "".join(lines) if isinstance(lines, list) else str(lines)
        record["traceback"] = relative_files(traceback, os.getcwd())
        where = kwargs.get("handler")
        if where is not None:
            record["handler"] = repr(where)
    return record


class _Listener(BaseComponent):
    """The ``*`` handlers, in the tree only while a page watches (see the module's text)."""

    def __init__(self, tap: EventTap, figures: Figures) -> None:
        super().__init__(channel="*")
        self.name = "InspectorListener"
        self._tap = tap
        self._figures = figures

    @handler("*", channel="*", priority=Priority.INSPECT)
    def _on_event(self, event: Event, *args: Any, **kwargs: Any) -> None:
        self._tap.offer(event, args, kwargs)

    # The handler clock of the figures: started after the record above, stopped last.
    @handler("*", channel="*", priority=Priority.INSPECT - 1)
    def _on_event_start(self, event: Event, *args: Any, **kwargs: Any) -> None:
        self._figures.event_started(event, event.name)

    @handler("*", channel="*", priority=Priority.LAST - 1)
    def _on_event_end(self, event: Event, *args: Any, **kwargs: Any) -> None:
        self._figures.event_finished(event)


class EventTap:
    """The watchers of one tree, and the listener that feeds them while there are any.

    While there are watchers it also samples the live figures (see
    :mod:`relays_inspector._figures`) every ``figure_limits.interval`` seconds, with a
    loop timer, and hands each sample to every subscription. *queue_depth* and
    *connections* are read for the figures.
    """

    def __init__(
        self,
        *,
        figure_limits: FigureLimits | None = None,
        queue_depth: Callable[[], int] = lambda: 0,
        connections: Callable[[], int | None] = lambda: None,
    ) -> None:
        self.figure_limits = figure_limits if figure_limits is not None else FigureLimits()
        self._queue_depth = queue_depth
        self._connections = connections
        self._subscriptions: list[Subscription] = []
        self._listener: _Listener | None = None
        self._figures: Figures | None = None
        self._sampler: asyncio.TimerHandle | None = None

    @property
    def watching(self) -> int:
        """How many subscriptions are open."""
        return len(self._subscriptions)

    @property
    def sampling(self) -> bool:
        """Whether the figures are being sampled (only while someone watches)."""
        return self._sampler is not None

    def subscribe(self, subscription: Subscription, under: BaseComponent) -> None:
        """Start feeding *subscription*; the first one registers the listener under *under*."""
        self._subscriptions.append(subscription)
        if self._listener is None:
            self._figures = Figures(self.figure_limits, self._queue_depth, self._connections)
            self._listener = _Listener(self, self._figures).register(under)
            self._sampler = asyncio.get_running_loop().call_later(
                self.figure_limits.interval, self._sample
            )

    def unsubscribe(self, subscription: Subscription) -> None:
        """Stop feeding *subscription*; the last one unregisters the listener."""
        if subscription in self._subscriptions:
            self._subscriptions.remove(subscription)
        if not self._subscriptions and self._listener is not None:
            listener, self._listener = self._listener, None
            self._figures = None
            if self._sampler is not None:
                self._sampler.cancel()
                self._sampler = None
            listener.unregister()

    def _sample(self) -> None:
        if self._figures is None:
            return
        figures = self._figures.sample()
        for subscription in self._subscriptions:
            subscription.publish(figures)
        self._sampler = asyncio.get_running_loop().call_later(
            self.figure_limits.interval, self._sample
        )

    def end_all(self) -> None:
        """End every subscription's stream (each unsubscribes as its stream closes)."""
        for subscription in self._subscriptions:
            subscription.end()

    def offer(self, event: Event, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        for subscription in self._subscriptions:
            subscription.offer(event, args, kwargs)
