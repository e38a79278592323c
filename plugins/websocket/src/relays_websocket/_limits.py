"""The limits every WebSocket connection runs under, named, with safe defaults."""

from __future__ import annotations

from typing import Any

import attrs

__all__ = ["WebSocketLimits"]


def _positive(instance: object, attribute: attrs.Attribute[Any], value: float) -> None:
    if value <= 0:
        raise ValueError(f"WebSocketLimits.{attribute.name} must be > 0, not {value!r}")


def _positive_or_none(
    instance: object, attribute: attrs.Attribute[Any], value: float | None
) -> None:
    if value is not None and value <= 0:
        raise ValueError(f"WebSocketLimits.{attribute.name} must be > 0 or None, not {value!r}")


@attrs.frozen
class WebSocketLimits:
    """What one connection may cost; pass ``WebSocketLimits(...)`` or keyword overrides.

    ``max_message`` bounds a whole message after reassembly and decompression (a
    fragmented or compressed message cannot grow past it: close code 1009);
    ``max_frame`` bounds one frame's payload as declared in its header, so a lying
    length is refused before any byte is buffered. ``max_outgoing`` is the
    transport's write buffer above which ``await ws.send()`` waits for the peer to
    read (backpressure), and the event API drops the connection (close 1008) rather
    than let memory grow. ``ping_interval`` sends a ping after that much silence;
    no pong within ``ping_timeout`` closes the connection (1011). ``close_timeout``
    is how long a closing side waits for the peer's close frame before dropping
    the connection. ``max_handshake`` bounds the client's read of the HTTP answer.
    """

    max_message: int = attrs.field(default=1024 * 1024, validator=_positive)
    max_frame: int = attrs.field(default=1024 * 1024, validator=_positive)
    max_outgoing: int = attrs.field(default=1024 * 1024, validator=_positive)
    ping_interval: float | None = attrs.field(default=20.0, validator=_positive_or_none)
    ping_timeout: float | None = attrs.field(default=20.0, validator=_positive_or_none)
    close_timeout: float = attrs.field(default=10.0, validator=_positive)
    max_handshake: int = attrs.field(default=16 * 1024, validator=_positive)
