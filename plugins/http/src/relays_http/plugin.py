"""The relays plugin of relays-http: the ``http`` protocol and the ``serve``/``demo`` commands.

Thin on purpose: loading every installed plugin must stay cheap, so the server
modules are imported only when a hook is actually asked for them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from relays import Provided
from relays.hookspecs import hookimpl

if TYPE_CHECKING:
    from relays import BaseComponent

__all__ = ["relays_add_commands", "relays_dispatcher", "relays_protocol", "relays_provides"]


@hookimpl
def relays_protocol(name: str) -> Callable[..., BaseComponent] | None:
    if name != "http":
        return None
    from ._server import HTTP

    return HTTP


@hookimpl
def relays_dispatcher(name: str) -> Callable[..., BaseComponent] | None:
    if name == "default":
        from ._dispatcher import Dispatcher

        return Dispatcher
    if name == "virtualhosts":
        from ._virtualhosts import VirtualHosts

        return VirtualHosts
    if name == "wsgi":
        from ._wsgi_gateway import Gateway

        return Gateway
    return None


@hookimpl
def relays_provides() -> list[Provided]:
    return [
        Provided("protocol", "http", "HTTP/1.1 server protocol (request/response events)"),
        Provided("dispatcher", "default", "controllers mounted at paths (Dispatcher)"),
        Provided("dispatcher", "virtualhosts", "Host field to path prefix (VirtualHosts)"),
        Provided("dispatcher", "wsgi", "WSGI applications at path prefixes (Gateway)"),
        Provided("command", "serve", "serve an HTTP app: relays serve module:factory"),
        Provided("command", "demo", "serve the demo site"),
    ]


@hookimpl
def relays_add_commands(commands: Any) -> None:
    from ._cli import add_commands

    add_commands(commands)
