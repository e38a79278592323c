"""The Debugger: a component that reports every event and every handler error.

Drop it into a tree (``app + Debugger()``) to see what flows through it. It listens
to every event name on every channel at a high priority, so it reports an event
before its handlers run; it returns nothing, so it never changes a result.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterable
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
    reports errors only.
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
    ) -> None:
        super().__init__(channel=channel)
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
            self._emit(logging.DEBUG, repr(event))
        if self.errors and type(event) is ExceptionEvent:
            error_type, error, lines = args[:3]
            where = kwargs.get("handler")
            report = f"ERROR {where!r} ({error_type.__name__}): {error}\n{''.join(lines)}"
            self._emit(logging.ERROR, report.rstrip("\n"))

    def _emit(self, level: int, message: str) -> None:
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
