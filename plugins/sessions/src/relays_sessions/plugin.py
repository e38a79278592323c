"""The relays plugin of relays-sessions: the ``sessions`` dispatcher, the built-in
session stores and the ``--session-*`` options of ``relays serve``.

Thin on purpose: the component and the stores are imported only when a hook is
actually asked for them.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import TYPE_CHECKING

from relays import Provided
from relays.hookspecs import hookimpl

if TYPE_CHECKING:
    import pluggy

    from relays import BaseComponent, Config

    from ._store import SessionStore

__all__ = [
    "relays_add_hookspecs",
    "relays_add_options",
    "relays_app_created",
    "relays_configure",
    "relays_dispatcher",
    "relays_provides",
    "relays_session_store",
]


@hookimpl
def relays_add_hookspecs(plugin_manager: pluggy.PluginManager) -> None:
    """Declare the session-store hook, so third-party stores are checked against it."""
    from . import hookspecs

    plugin_manager.add_hookspecs(hookspecs)


@hookimpl
def relays_dispatcher(name: str) -> Callable[..., BaseComponent] | None:
    if name != "sessions":
        return None
    from ._sessions import Sessions

    return Sessions


@hookimpl
def relays_session_store(scheme: str) -> Callable[[str], SessionStore] | None:
    if scheme == "memory":
        from ._memory import MemoryStore

        return MemoryStore.from_url
    if scheme == "sqlite":
        from ._sqlite import SQLiteStore

        return SQLiteStore.from_url
    if scheme in ("redis", "rediss"):
        from ._redis import RedisStore

        return RedisStore.from_url
    return None


@hookimpl
def relays_provides() -> list[Provided]:
    return [
        Provided(
            "dispatcher", "sessions", "signed-cookie HTTP sessions (relays_sessions.Sessions)"
        ),
        Provided("session-store", "memory", "sessions in this process's memory"),
        Provided("session-store", "sqlite", "sessions in a SQLite file: survive restarts"),
        Provided("session-store", "redis", "sessions in Redis: shared by processes and machines"),
    ]


@hookimpl
def relays_add_options(command: str, parser: argparse.ArgumentParser) -> None:
    if command == "serve":
        from ._cli import add_options

        add_options(parser)


@hookimpl
def relays_configure(config: Config) -> None:
    if config.command == "serve":
        from ._cli import configure

        configure(config)


@hookimpl
def relays_app_created(app: BaseComponent, config: Config) -> None:
    if config.command == "serve":
        from ._cli import add_sessions

        add_sessions(app, config)
