"""Freeing a finished event and its value at once, when nobody else can see them.

Theory of operation
-------------------
An event and its value refer to each other (``event.value``, ``value.event``): whoever
holds either can reach both, which users rely on. Without help every fired event would
then wait for the cycle collector, which spends more time per event than dispatching
it did (about 16% of fire-and-forget dispatch). So when the dispatcher is done with an
event, it asks whether anything but its own local variables refers to the event or to
its value. If nothing does, nobody can ever look at the link again: the dispatcher drops
it (``event.value = None``) and reference counting frees both at once. Nobody can
observe the difference: whoever holds either object keeps both whole.

"Anything but its own local variables" is read from reference counts, which is
CPython's (``sys.getrefcount``). What the count is for an object held by exactly one
local variable and one attribute differs between interpreter versions, so it is
measured here at import, in that exact shape, rather than assumed: :data:`ALONE`. The
dispatcher compares ``refcount(value) == ALONE and refcount(event) == ALONE`` where it
holds each in one local variable (the value's other reference is ``event.value``, the
event's is ``value.event``). It does so inline, in its two places (the dispatch loop
and the end of a handler task), because a function call there would cost more than
the check.

Where counts cannot be trusted (no ``sys.getrefcount``, as on PyPy, or a free-threaded
build, where counts are split between threads) :data:`ALONE` is -1, which no count
matches: nothing is dropped, and the cycle collector frees events as it would anyway
(the public way: slower, never wrong).
"""

from __future__ import annotations

import sys
from collections.abc import Callable

__all__ = ["ALONE", "counts_trusted", "refcount"]


def _no_count(_object: object) -> int:
    return 0


#: ``sys.getrefcount`` where the interpreter has it.
refcount: Callable[[object], int] = getattr(sys, "getrefcount", _no_count)


def _counts_trusted() -> bool:
    gil_enabled: Callable[[], bool] | None = getattr(sys, "_is_gil_enabled", None)
    return (
        sys.implementation.name == "cpython"
        and refcount is not _no_count
        and (gil_enabled is None or gil_enabled())
    )


#: Whether reference counts can tell that nobody else holds an event.
counts_trusted = _counts_trusted()


def _count_when_alone() -> int:
    """``refcount(x)`` for an object that only a local ``x`` and one attribute refer to."""

    class Holder:
        ref: object = None

    holder = Holder()
    probe = Holder()
    holder.ref = probe
    return refcount(probe)


#: ``refcount`` of an event (or value) that only one local variable of the dispatcher
#: and its value (or event) refer to; -1, matching nothing, where counts can't be trusted.
ALONE = _count_when_alone() if counts_trusted else -1
