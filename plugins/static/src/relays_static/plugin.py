"""The relays plugin of relays-static: the ``static`` dispatcher and ``serve --static``.

Thin on purpose: the serving modules are imported only when a hook asks for them.
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
    "relays_configure",
    "relays_dispatcher",
    "relays_provides",
]


@hookimpl
def relays_dispatcher(name: str) -> Callable[..., BaseComponent] | None:
    if name != "static":
        return None
    from ._static import Static

    return Static


@hookimpl
def relays_provides() -> list[Provided]:
    return [Provided("dispatcher", "static", "files from a directory: Static(path, docroot)")]


@hookimpl
def relays_add_options(command: str, parser: argparse.ArgumentParser) -> None:
    if command != "serve":
        return
    from ._cli import add_options

    add_options(parser)


@hookimpl
def relays_configure(config: Config) -> None:
    if config.command != "serve":
        return
    from ._cli import configure

    configure(config)


@hookimpl
def relays_app_created(app: BaseComponent, config: Config) -> None:
    if config.command != "serve" or not config.get("static"):
        return
    from ._cli import app_created

    app_created(app, config)
