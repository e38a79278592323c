"""Route the kernel's :class:`~relays.Debugger` to a logger instead of stderr."""

from __future__ import annotations

import logging
from typing import Any

from relays import BaseComponent, Debugger

__all__ = ["debug_to_logger"]


def debug_to_logger(app: BaseComponent, name: str = "relays.debug", **options: Any) -> Debugger:
    """Register a :class:`~relays.Debugger` into *app* that logs to logger *name*.

    Every event goes out at DEBUG (so the logger's level switches the stream on and
    off without touching the tree), and every error at ERROR with its traceback.
    *options* go to the Debugger (``ignore_events``, ``ignore_channels``,
    ``events=False`` for errors only, ...). Returns the Debugger.
    """
    debugger = Debugger(logger=logging.getLogger(name), **options)
    debugger.register(app)
    return debugger
