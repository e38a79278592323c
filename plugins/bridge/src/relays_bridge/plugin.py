"""The relays plugin of relays-bridge: says what it provides, and runs
``component.start(process=True, link=parent)``.

Thin on purpose: nothing of the bridge is imported until an application makes one.
"""

from __future__ import annotations

from typing import Any

from relays import BaseComponent, Provided
from relays.hookspecs import hookimpl

__all__ = ["relays_provides", "relays_start_process"]


@hookimpl
def relays_provides() -> list[Provided]:
    return [
        Provided("bridge", "redis", "events across processes over Redis (relays_bridge.Bridge)"),
        Provided("bridge", "nats", "events across processes over NATS (relays_bridge.Bridge)"),
        Provided(
            "process link",
            "pipe",
            "a subtree in a child process: component.start(process=True, link=parent)",
        ),
    ]


@hookimpl
def relays_start_process(
    component: BaseComponent, link: BaseComponent, options: dict[str, Any]
) -> BaseComponent:
    from ._process import link_for

    return link_for(component, options)
