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

__all__ = ["relays_add_commands", "relays_protocol", "relays_provides"]


@hookimpl
def relays_protocol(name: str) -> Callable[..., BaseComponent] | None:
    if name != "http":
        return None
    from ._server import HTTP

    return HTTP


@hookimpl
def relays_provides() -> list[Provided]:
    return [
        Provided("protocol", "http", "HTTP/1.1 server protocol (request/response events)"),
        Provided("command", "serve", "serve an HTTP app: relays serve module:factory"),
        Provided("command", "demo", "serve the demo site"),
    ]


@hookimpl
def relays_add_commands(commands: Any) -> None:
    from ._cli import add_commands

    add_commands(commands)
