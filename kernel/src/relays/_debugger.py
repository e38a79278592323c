"""The Debugger: a component that reports every event and every handler error.

Drop it into a tree (``app + Debugger()``) to see what flows through it. It listens
to every event name on every channel at a high priority, so it reports an event
before its handlers run; it returns nothing, so it never changes a result.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import IO, Any

from ._components import BaseComponent
from ._events import Event, ExceptionEvent
from ._handlers import handler

__all__ = ["Debugger"]


class Debugger(BaseComponent):
    """Print events and errors to *file* (default stderr) or log them to *logger*.

    *file* may be a path (opened for appending) or a text stream. ``ignore_events``
    and ``ignore_channels`` leave out noisy names and channels; ``events=False``
    reports errors only. *prefix* (a string, or a function called for each line,
    e.g. to add the time or the process id) starts every line it writes, followed by
    ``": "``; *trim* cuts an event's text to that many characters (``...`` marks the
    cut), for events that carry whole request bodies.
    """

    def __init__(
        self,
        *,
        file: IO[str] | str | Path | None = None,
        logger: logging.Logger | None = None,
        ignore_events: Iterable[str] = (),
        ignore_channels: Iterable[Any] = (),
        events: bool = True,
        errors: bool = True,
        channel: Any = "*",
        prefix: str | Callable[[], str] = "",
        trim: int | None = None,
    ) -> None:
        super().__init__(channel=channel)
        if trim is not None and trim < 1:
            raise ValueError(f"trim must be 1 or more characters (or None), not {trim}")
        self.prefix = prefix
        self.trim = trim
        self._owns_file = isinstance(file, (str, Path))
        self.file: IO[str] | None = (
            open(file, "a", encoding="utf-8")  # noqa: SIM115 - closed on stopped
            if isinstance(file, (str, Path))
            else file
        )
        self.logger = logger
        self.ignore_events = set(ignore_events)
        self.ignore_channels = set(ignore_channels)
        self.events = events
        self.errors = errors

    @handler("*", channel="*", priority=1000)
    def _on_event(self, event: Event, *args: Any, **kwargs: Any) -> None:
        if event.name in self.ignore_events:
            return
        if self.ignore_channels and any(c in self.ignore_channels for c in event.channels):
            return
        if self.events:
            text = repr(event)
            if self.trim is not None and len(text) > self.trim:
                text = text[: self.trim] + "..."
            self._emit(logging.DEBUG, text)
        if self.errors and type(event) is ExceptionEvent:
            error_type, error, lines = args[:3]
            where = kwargs.get("handler")
            report = f"ERROR {where!r} ({error_type.__name__}): {error}\n{''.join(lines)}"
            self._emit(logging.ERROR, report.rstrip("\n"))

    def _emit(self, level: int, message: str) -> None:
        prefix = self.prefix() if callable(self.prefix) else self.prefix
        if prefix:
            message = f"{prefix}: {message}"
        if self.logger is not None:
            self.logger.log(level, "%s", message)
            return
        stream = self.file if self.file is not None else sys.stderr
        stream.write(message + "\n")
        stream.flush()

    @handler("stopped", channel="*", priority=-1000)
    def _on_stopped(self, component: BaseComponent) -> None:
        if self._owns_file and self.file is not None and component is self.root:
            self.file.flush()

    def close(self) -> None:
        """Close the file the Debugger opened itself (a path given as *file*)."""
        if self._owns_file and self.file is not None:
            self.file.close()
            self.file = None
