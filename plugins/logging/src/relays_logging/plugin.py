"""The relays plugin of relays-logging: logging options for ``relays serve`` and ``demo``.

Thin on purpose: the components and handlers are imported only when a command
that has the options runs.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from relays import Provided
from relays.hookspecs import hookimpl

if TYPE_CHECKING:
    from relays import BaseComponent, Config

__all__ = ["relays_add_options", "relays_app_created", "relays_configure", "relays_provides"]


@hookimpl
def relays_provides() -> list[Provided]:
    return [
        Provided("option", "serve --access-log", "access log: combined or JSON lines"),
        Provided("option", "serve --log-level", "error log level, on stderr"),
    ]


@hookimpl
def relays_add_options(command: str, parser: argparse.ArgumentParser) -> None:
    from ._cli import add_options

    add_options(command, parser)


@hookimpl
def relays_configure(config: Config) -> None:
    from ._cli import configure

    configure(config)


@hookimpl
def relays_app_created(app: BaseComponent, config: Config) -> None:
    from ._cli import app_created

    app_created(app, config)
