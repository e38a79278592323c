"""``relays serve --session-store URL --session-secret SECRET``: sessions without code.

The options are added to relays-http's ``serve`` command through the kernel's
``relays_add_options`` hook; ``relays_configure`` checks them in the parent
process (before ``--workers`` forks, so every worker signs with the same secret)
and ``relays_app_created`` registers a :class:`~relays_sessions.Sessions` into
each worker's tree.
"""

from __future__ import annotations

import argparse
import os
import secrets
import sys
from typing import Any

from relays import BaseComponent, Config

__all__ = ["SECRET_ENV", "add_options", "add_sessions", "configure"]

#: The environment variable read when ``--session-secret`` is not given.
SECRET_ENV = "RELAYS_SESSION_SECRET"


def add_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("sessions (relays-sessions)")
    group.add_argument(
        "--session-store",
        metavar="URL",
        default=None,
        help="give every request a session kept in this store: memory://, "
        "sqlite:///path/sessions.db, redis://host:6379/0",
    )
    group.add_argument(
        "--session-secret",
        metavar="SECRET",
        default=None,
        help=f"secret that signs session cookies (default: ${SECRET_ENV}, else a random "
        "one: sessions then end with the server)",
    )
    group.add_argument(
        "--session-idle-timeout",
        metavar="SECONDS",
        type=float,
        default=None,
        help="a session unused this long expires (default 1800)",
    )
    group.add_argument(
        "--session-preload",
        action="store_true",
        default=False,
        help="load each session before the handlers run, rather than when first used: "
        "sync handlers then never wait for the store, but every request with a session "
        "cookie reads it",
    )


def configure(config: Config) -> None:
    """Check the options and settle the secret once, in the parent process.

    Bad options end the command as argparse does (exit status 2, a one-line
    message): the kernel calls this hook before it handles a command's errors.
    """
    options = config.options
    store = getattr(options, "session_store", None)
    if store is None:
        if getattr(options, "session_secret", None) is None:
            return
        options.session_store = store = "memory://"
    from ._signing import Signer
    from ._store import open_store

    if options.session_secret is None:
        options.session_secret = os.environ.get(SECRET_ENV) or None
    try:
        open_store(store)  # a bad URL or a missing client fails here, before any fork
        if options.session_secret is not None:
            Signer(options.session_secret)
        if options.session_idle_timeout is not None and not options.session_idle_timeout > 0:
            raise ValueError("--session-idle-timeout must be a positive number of seconds")
    except ValueError as error:
        print(f"relays {config.command}: error: {error}", file=sys.stderr)
        raise SystemExit(2) from None
    if options.session_secret is None:
        print(
            f"relays serve: warning: no --session-secret or ${SECRET_ENV}: using a random "
            "secret, so sessions end when the server stops",
            file=sys.stderr,
        )
        options.session_secret = secrets.token_urlsafe(32)


def add_sessions(app: BaseComponent, config: Config) -> None:
    """Register a Sessions component into the server *app* if the options ask for one."""
    from ._sessions import Sessions

    options = config.options
    store = getattr(options, "session_store", None)
    if store is None:
        return
    if any(isinstance(component, Sessions) for component in app.walk()):
        raise ValueError(
            "the app already has a Sessions component; drop --session-store or the component"
        )
    settings: dict[str, Any] = {"secret": options.session_secret}
    if options.session_idle_timeout is not None:
        settings["idle_timeout"] = options.session_idle_timeout
    if getattr(options, "session_preload", False):
        settings["preload"] = True
    channel = getattr(app, "channel", "web")
    app += Sessions(store, channel=channel, **settings)
