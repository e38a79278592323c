"""The limits of hosting an ASGI application: named, documented, with safe defaults."""

from __future__ import annotations

from typing import Any

import attrs

__all__ = ["AsgiLimits"]


def _positive_or_none(_instance: object, attribute: attrs.Attribute[Any], value: Any) -> None:
    if value is not None and not (isinstance(value, int | float) and value > 0):
        raise ValueError(f"{attribute.name} must be a positive number of seconds or None")


def _at_least_one(_instance: object, attribute: attrs.Attribute[Any], value: Any) -> None:
    if not (isinstance(value, int) and value >= 1):
        raise ValueError(f"{attribute.name} must be an int of at least 1")


@attrs.frozen
class AsgiLimits:
    """How long an application may take, and how much it may buffer.

    Every limit protects the server from an application that misbehaves: one that
    never answers holds a connection (and its memory) forever otherwise.
    """

    #: Seconds from calling the app to its first body message (the response head is
    #: sent with it). An app that takes longer is cancelled and the client gets a 500.
    #: ``None`` waits forever (long polls that answer late may want it).
    response_start_timeout: float | None = attrs.field(default=60.0, validator=_positive_or_none)
    #: Body chunks the app may have sent that the client has not taken yet; ``send``
    #: waits beyond that, so a slow client slows the app instead of filling memory.
    buffered_chunks: int = attrs.field(default=4, validator=_at_least_one)
    #: Seconds the app's ``lifespan.startup`` may take before the server gives up.
    startup_timeout: float | None = attrs.field(default=60.0, validator=_positive_or_none)
    #: Seconds the app's ``lifespan.shutdown`` may take (the kernel gives ``stopped``
    #: handlers 10 s in all).
    shutdown_timeout: float | None = attrs.field(default=8.0, validator=_positive_or_none)
