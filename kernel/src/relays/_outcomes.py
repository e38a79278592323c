"""What follows an event's end: its derived events, completion, waiters, error reports.

Kept apart from the dispatch loop so that ``_dispatch.py`` holds only the hot path;
everything here runs once per finished event at most, and most of it only when an
event asked for ``success`` or ``failure``, or somebody waits. None of it holds state
of its own but :data:`_derived_classes`, a cache of event classes (see the design page's
list of module-level state).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from ._events import Event, _class_name

__all__ = [
    "channels_meet",
    "derived",
    "log_unhandled",
    "notify_waiters",
    "value_changed",
]

logger = logging.getLogger("relays")


_derived_classes: dict[str, type[Event]] = {}


def derived(name: str, event: Event, outcome: Any) -> Event:
    """``<name>_success(event, value)`` and kin: a handler's ``event`` is *event*."""
    event_class = _derived_classes.get(name)
    if event_class is None:
        event_class = type(_class_name(name), (Event,), {"name": name})
        event_class.passes_event = False
        _derived_classes[name] = event_class
    return event_class(event, outcome)


def value_changed(event: Event) -> Event:
    """``<name>_value_changed(value)`` for an event with ``notify`` (or the event named
    by ``notify`` when it is a string), as circuits fires it."""
    notify = event.notify
    name = notify if isinstance(notify, str) else f"{event.name}_value_changed"
    return Event.create(name, event.value)


def channels_meet(wanted: tuple[Any, ...], fired: tuple[Any, ...]) -> bool:
    if "*" in wanted or "*" in fired:
        return True
    return any(channel in fired for channel in wanted)


def log_unhandled(event: Event) -> None:
    error_type, error, lines = event.args[:3]
    handler = event.kwargs.get("handler")
    logger.error("unhandled %s in %r: %s\n%s", error_type.__name__, handler, error, "".join(lines))


def notify_waiters(
    waiters: dict[str, list[tuple[tuple[Any, ...], asyncio.Future[Any]]]], event: Event
) -> None:
    """Wake those waiting (``wait``) for a finished event of *event*'s name and channels."""
    waiting = waiters.get(event.name)
    if not waiting:
        return
    keep = []
    value = event.value
    assert value is not None
    for channels, future in waiting:
        if future.done():
            continue
        if channels and not channels_meet(channels, event.channels):
            keep.append((channels, future))
        elif value.errors:
            future.set_exception(value.result)
        else:
            future.set_result(value.result)
    if keep:
        waiters[event.name] = keep
    else:
        del waiters[event.name]
