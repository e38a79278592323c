"""The relays plugin of relays-app: ``--daemon``, ``--pidfile``, ``--user`` and ``--group``
for ``relays serve``.

Thin on purpose: the daemon and privilege modules are imported only when a hook is
asked for them.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from relays import Provided
from relays.hookspecs import hookimpl

if TYPE_CHECKING:
    from relays import BaseComponent, Config

__all__ = ["relays_add_options", "relays_app_created", "relays_configure", "relays_provides"]

#: The commands that get the options: those that run a server until stopped.
COMMANDS = ("serve",)


@hookimpl
def relays_provides() -> list[Provided]:
    return [
        Provided("option", "serve --daemon", "run in the background with a pidfile"),
        Provided("option", "serve --user/--group", "drop root once the server listens"),
    ]


@hookimpl
def relays_add_options(command: str, parser: argparse.ArgumentParser) -> None:
    if command not in COMMANDS:
        return
    from ._cli import add_options

    add_options(parser)


@hookimpl
def relays_configure(config: Config) -> None:
    if config.command not in COMMANDS:
        return
    from ._cli import configure

    configure(config)


@hookimpl
def relays_app_created(app: BaseComponent, config: Config) -> None:
    if config.command not in COMMANDS or not config.get("user"):
        return
    from ._cli import app_created

    app_created(app, config)
