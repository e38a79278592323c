"""The relays plugin of relays-xmlrpc: the ``xmlrpc`` dispatcher.

Thin on purpose: loading every installed plugin must stay cheap, so the XML-RPC
modules (and defusedxml) are imported only when the hook is asked for them.
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
    if name != "xmlrpc":
        return None
    from ._dispatcher import XMLRPC

    return XMLRPC


@hookimpl
def relays_provides() -> list[Provided]:
    return [
        Provided("dispatcher", "xmlrpc", "XML-RPC over HTTP (methods are events), multicall"),
    ]
