"""The relays plugin of relays-inspector: ``relays serve --inspect``.

Thin on purpose: the inspector's modules are imported only when ``--inspect`` is given.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from relays.hookspecs import hookimpl

if TYPE_CHECKING:
    from relays import BaseComponent, Config

__all__ = ["relays_add_options", "relays_app_created", "relays_configure"]

#: The commands that build an HTTP server the inspector can join.
_COMMANDS = ("serve", "demo")


@hookimpl
def relays_add_options(command: str, parser: argparse.ArgumentParser) -> None:
    if command not in _COMMANDS:
        return
    from ._cli import add_options

    add_options(parser)


@hookimpl
def relays_configure(config: Config) -> None:
    if config.command not in _COMMANDS or not config.get("inspect"):
        return
    from ._cli import configure

    configure(config)


@hookimpl
def relays_app_created(app: BaseComponent, config: Config) -> None:
    if config.command not in _COMMANDS or not config.get("inspect"):
        return
    from ._cli import app_created

    app_created(app, config)
