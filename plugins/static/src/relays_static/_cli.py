"""``relays serve --static /=./public`` and ``relays serve ./public``, through hooks.

The ``serve`` command belongs to relays-http; we extend it the way any plugin
may: ``relays_add_options`` adds ``--static`` (repeatable) and
``--static-listing`` to it, ``relays_configure`` turns a directory given in place
of ``module:factory`` into ``--static /=DIR`` with an empty app, and
``relays_app_created`` registers one :class:`~relays_static.Static` per
``--static`` into the server the command built.
"""

from __future__ import annotations

import argparse
import os

from relays import BaseComponent, Config

__all__ = ["add_options", "app_created", "configure", "parse_mount"]


def parse_mount(text: str) -> tuple[str, str]:
    """``"/assets=./build"`` -> ``("/assets", "./build")``; ``"./public"`` mounts at ``/``."""
    prefix, equals, directory = text.partition("=")
    if not equals:
        prefix, directory = "/", text
    if not prefix.startswith("/"):
        raise argparse.ArgumentTypeError(
            f"expected URL-PREFIX=DIRECTORY with a prefix starting with '/', got {text!r}"
        )
    if not os.path.isdir(directory):
        raise argparse.ArgumentTypeError(f"{directory!r} is not a directory")
    return prefix, directory


def add_options(parser: argparse.ArgumentParser) -> None:
    """Add the static file options to the ``serve`` command."""
    group = parser.add_argument_group("static files (relays-static)")
    group.add_argument(
        "--static",
        action="append",
        type=parse_mount,
        default=None,
        metavar="PREFIX=DIR",
        help="serve the files of DIR at URL PREFIX (repeatable): --static /=./public",
    )
    group.add_argument(
        "--static-listing",
        action="store_true",
        default=False,
        help="list the contents of static directories that have no index.html",
    )


def configure(config: Config) -> None:
    """``relays serve ./public``: a directory where ``module:factory`` goes."""
    if config.command != "serve":
        return
    options = config.options
    target = getattr(options, "target", None)
    if not isinstance(target, str) or ":" in target or not os.path.isdir(target):
        return
    options.static = [*(options.static or []), ("/", target)]
    options.target = None  # no app: the server holds only what plugins add


def app_created(app: BaseComponent, config: Config) -> None:
    """Register a :class:`~relays_static.Static` per ``--static`` into the server."""
    mounts = config.get("static") or []
    if not mounts:
        return
    from ._static import Static

    listing = bool(config.get("static_listing", False))
    for prefix, directory in mounts:
        app += Static(prefix, docroot=directory, listing=listing, channel=app.channel)
