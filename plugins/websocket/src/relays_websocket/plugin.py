"""The relays plugin of relays-websocket: the ``websocket`` dispatcher.

Thin on purpose: the protocol modules are imported only when the dispatcher is asked for.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from relays import Provided
from relays.hookspecs import hookimpl

if TYPE_CHECKING:
    from relays import BaseComponent

__all__ = ["relays_dispatcher", "relays_provides"]


@hookimpl
def relays_dispatcher(name: str) -> Callable[..., BaseComponent] | None:
    if name != "websocket":
        return None
    from ._server import WebSockets

    return WebSockets


@hookimpl
def relays_provides() -> list[Provided]:
    return [Provided("dispatcher", "websocket", "WebSocket endpoints: WebSockets(path)")]
