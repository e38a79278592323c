"""The relays plugin of relays-resources: the ``resources`` dispatcher and ``--resource``.

Thin on purpose: the resource modules are imported only when a hook asks for them.
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
    if name != "resources":
        return None
    from ._site import Site

    return Site


@hookimpl
def relays_provides() -> list[Provided]:
    return [Provided("dispatcher", "resources", "a Twisted-style resource tree: Site(root)")]


@hookimpl
def relays_add_options(command: str, parser: argparse.ArgumentParser) -> None:
    if command != "serve":
        return
    group = parser.add_argument_group("resource trees (relays-resources)")
    group.add_argument(
        "--resource",
        default=None,
        metavar="MODULE:ROOT",
        help="serve the Resource tree ROOT of MODULE (a Resource, or a callable making one)",
    )


@hookimpl
def relays_app_created(app: BaseComponent, config: Config) -> None:
    target = config.get("resource") if config.command == "serve" else None
    if not target:
        return
    from ._cli import load_root
    from ._site import Site

    app += Site(load_root(target), channel=app.channel)
