"""The hook spec of relays-sessions: how a plugin adds a session store.

The kernel's plugin manager gets this spec from
:func:`relays_sessions.open_store` the first time a store is looked up (a plugin
module cannot add specs while the manager is still loading plugins). A plugin
implements the hook with the kernel's :data:`relays.hookspecs.hookimpl` marker::

    from relays.hookspecs import hookimpl

    @hookimpl
    def relays_session_store(scheme):
        if scheme == "memcached":
            from .store import MemcachedStore

            return MemcachedStore
        return None

The built-in ``memory``, ``sqlite`` and ``redis`` stores answer the same hook.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    from ._store import SessionStore

__all__ = ["hookspec", "relays_session_store"]

hookspec = pluggy.HookspecMarker("relays")


@hookspec(firstresult=True)
def relays_session_store(scheme: str) -> Callable[[str], SessionStore] | None:
    """Return a factory for session stores whose URLs start with *scheme* ``://``.

    *scheme* is lower-case (``"memory"``, ``"sqlite"``, ``"redis"``). The factory is
    called with the whole URL and returns a :class:`~relays_sessions.SessionStore`;
    it must not do I/O yet (``relays serve --workers`` makes the store before it
    forks): connect on first use. Return ``None`` for other schemes.
    """
