"""The relays plugin of relays-servlets: the ``servlets`` dispatcher and ``--servlets``.

Thin on purpose: the servlet modules are imported only when a hook asks for them.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import TYPE_CHECKING

from relays import Provided
from relays.hookspecs import hookimpl

if TYPE_CHECKING:
    from relays import BaseComponent, Config

__all__ = [
    "relays_add_options",
    "relays_app_created",
    "relays_dispatcher",
    "relays_provides",
]


@hookimpl
def relays_dispatcher(name: str) -> Callable[..., BaseComponent] | None:
    if name != "servlets":
        return None
    from ._application import Servlets

    return Servlets


@hookimpl
def relays_provides() -> list[Provided]:
    return [Provided("dispatcher", "servlets", "Webware-style servlet contexts: Servlets(...)")]


@hookimpl
def relays_add_options(command: str, parser: argparse.ArgumentParser) -> None:
    if command != "serve":
        return
    group = parser.add_argument_group("servlets (relays-servlets)")
    group.add_argument(
        "--servlets",
        action="append",
        default=None,
        metavar="[PREFIX=]DIR",
        help="serve the servlet files of DIR at URL PREFIX (default /), repeatable",
    )


@hookimpl
def relays_app_created(app: BaseComponent, config: Config) -> None:
    mounts = config.get("servlets") if config.command == "serve" else None
    if not mounts:
        return
    from ._application import Servlets

    contexts: dict[str, str] = {}
    for mount in mounts:
        prefix, equals, directory = mount.partition("=")
        contexts[prefix if equals else "/"] = directory if equals else mount
    app += Servlets(contexts, channel=app.channel)
