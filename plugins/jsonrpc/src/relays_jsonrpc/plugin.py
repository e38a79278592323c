"""The relays plugin of relays-jsonrpc: the ``jsonrpc`` dispatcher and protocol.

Thin on purpose: loading every installed plugin must stay cheap, so the JSON-RPC
modules are imported only when a hook is actually asked for them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from relays import Provided
from relays.hookspecs import hookimpl

if TYPE_CHECKING:
    from relays import BaseComponent

__all__ = ["relays_dispatcher", "relays_protocol", "relays_provides"]


@hookimpl
def relays_dispatcher(name: str) -> Callable[..., BaseComponent] | None:
    if name != "jsonrpc":
        return None
    from ._dispatcher import JSONRPC

    return JSONRPC


@hookimpl
def relays_protocol(name: str) -> Callable[..., BaseComponent] | None:
    if name != "jsonrpc":
        return None
    from ._lines import JSONRPCLines

    return JSONRPCLines


@hookimpl
def relays_provides() -> list[Provided]:
    return [
        Provided("dispatcher", "jsonrpc", "JSON-RPC 2.0 over HTTP (methods are events)"),
        Provided("protocol", "jsonrpc", "JSON-RPC 2.0, one JSON document per line"),
    ]
