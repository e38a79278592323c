"""A client that goes away cancels the handlers still answering it, unless shielded.

Theory of operation
-------------------
The ``request`` event is *cancellable* (:attr:`relays.Event.cancellable`): the
kernel keeps the tasks of its async handlers, and of the events they answer
with (a controller's ``controller_call``). When the connection learns that the
client is gone while the request is unanswered, it sets
:attr:`~relays_http.Request.disconnected` and cancels those tasks
(:meth:`relays.Event.cancel_handlers`): an ``async`` handler awaiting a slow
upstream stops there with :class:`asyncio.CancelledError`, as Twisted's
``notifyFinish`` errback and aiohttp's handler cancellation let it, instead of
finishing work nobody will read. Its answer would be dropped anyway.

Work that must finish (a payment recorded, a file moved) opts out per handler
with :func:`shielded`: its task is spared, and it can still look at
``request.disconnected``. Sync handlers run to their end on the loop and are
never interrupted.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

__all__ = ["SHIELDED_ATTRIBUTE", "shielded"]

F = TypeVar("F", bound=Callable[..., Any])

#: Set to True on a function by :func:`shielded`.
SHIELDED_ATTRIBUTE = "__relays_http_shielded__"


def shielded(function: F) -> F:
    """Keep an async ``request`` handler (or page) running when its client goes away.

    ``@shielded`` goes above or below ``@handler``/``@expose``; without it, an async
    handler still running when the client disconnects is cancelled.
    """
    setattr(function, SHIELDED_ATTRIBUTE, True)
    return function


def is_shielded(function: Any) -> bool:
    """Whether *function* (a bound method too) was marked with :func:`shielded`."""
    return getattr(function, SHIELDED_ATTRIBUTE, False) is True
