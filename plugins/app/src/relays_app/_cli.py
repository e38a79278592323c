"""The command-line side: options for ``relays serve`` and what they do.

The daemon forks in ``relays_configure``, before the command loads the app or forks
its workers, so every worker is a child of the daemon and no event loop exists yet
(uvloop included). The user and group are checked there too, in the foreground, so a
typo is reported on the terminal; the switch itself happens in each worker once it
listens (:class:`~relays_app.DropPrivileges`).
"""

from __future__ import annotations

import argparse
import os

from relays import BaseComponent, Config

from ._daemon import DaemonError, daemonize
from ._privileges import DropPrivileges, UnknownGroup, UnknownUser, resolve_identity

__all__ = ["add_options", "app_created", "configure"]


def add_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("daemon and privileges (relays-app)")
    group.add_argument(
        "--daemon", action="store_true", help="detach into the background (double fork)"
    )
    group.add_argument("--pidfile", help="with --daemon: write the daemon's pid here")
    group.add_argument(
        "--daemon-output",
        default=os.devnull,
        metavar="FILE",
        help="with --daemon: append stdout and stderr to FILE (default: discard)",
    )
    group.add_argument("--user", help="once listening, run as this user (start as root)")
    group.add_argument("--group", help="with --user: run as this group (default: the user's)")


def configure(config: Config) -> None:
    options = config.options
    try:
        if options.group and not options.user:
            raise ValueError("--group needs --user")
        if options.pidfile and not options.daemon:
            raise ValueError("--pidfile needs --daemon")
        if options.user:
            resolve_identity(options.user, options.group)
        if options.daemon:
            daemonize(
                pidfile=options.pidfile,
                chdir=os.getcwd(),  # the app's module paths stay valid
                stdout=options.daemon_output,
                stderr=options.daemon_output,
            )
    except (ValueError, UnknownUser, UnknownGroup, DaemonError) as error:
        raise SystemExit(f"relays {config.command}: error: {error}") from None


def app_created(app: BaseComponent, config: Config) -> None:
    app += DropPrivileges(config.options.user, config.options.group)
