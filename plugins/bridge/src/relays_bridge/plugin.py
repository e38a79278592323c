"""The relays plugin of relays-bridge: says what it provides.

Thin on purpose: nothing of the bridge is imported until an application makes one.
"""

from __future__ import annotations

from relays import Provided
from relays.hookspecs import hookimpl

__all__ = ["relays_provides"]


@hookimpl
def relays_provides() -> list[Provided]:
    return [
        Provided("bridge", "redis", "events across processes over Redis (relays_bridge.Bridge)"),
        Provided("bridge", "nats", "events across processes over NATS (relays_bridge.Bridge)"),
    ]
