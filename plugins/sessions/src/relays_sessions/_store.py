"""What a session store is, and how one is found from a URL.

A store keeps, per session id, a mapping of key to JSON text, the time the
session was created and the time it expires. It never decodes the values, never
decides how long a session lives (the :class:`~relays_sessions.Sessions`
component computes every expiry time) and never sees a cookie.

Writes are *per key*: :meth:`SessionStore.save` gets only the keys a request
changed and the keys it deleted, and applies them atomically to what is stored
now. Two requests of one session that change different keys therefore both keep
their changes, whatever the order they finish in; for one key, the last save wins.

Stores are found by URL scheme through the ``relays_session_store`` hook
(:mod:`relays_sessions.hookspecs`); the built-in ones (``memory``, ``sqlite``,
``redis``/``rediss``) answer the same hook as a third party's would.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Protocol, runtime_checkable

import attrs

if TYPE_CHECKING:
    import pluggy

__all__ = [
    "Changes",
    "Record",
    "SessionStore",
    "SessionStoreError",
    "StoreNotFound",
    "open_store",
]


class SessionStoreError(Exception):
    """The store failed (unreachable, full, corrupt): the request gets a 503.

    Stores raise it, wrapping their client's own errors, so the
    :class:`~relays_sessions.Sessions` component can tell an outage from a bug.
    """


class StoreNotFound(LookupError, ValueError):
    """No installed plugin provides a session store for a URL's scheme.

    Also a :class:`ValueError`: on the command line it is bad input, reported as such.
    """


@attrs.frozen
class Record:
    """One stored session as :meth:`SessionStore.load` returns it."""

    #: Key to JSON text.
    data: Mapping[str, str]
    #: When the session was created (Unix time, seconds).
    created: float
    #: When it expires (Unix time); the store forgets it then.
    expires: float


@attrs.frozen
class Changes:
    """What one request changed in a session: applied atomically by :meth:`SessionStore.save`."""

    #: Keys written, to their JSON text.
    written: Mapping[str, str]
    #: Keys deleted.
    deleted: frozenset[str]
    #: When the session was created (only used when *create* makes a new record).
    created: float
    #: The new expiry time (Unix time).
    expires: float
    #: Make the record when it does not exist; when False, a session that is gone
    #: (expired, or invalidated by a concurrent request) stays gone and the changes
    #: are dropped, so a logout is never undone by a request still in flight.
    create: bool


@runtime_checkable
class SessionStore(Protocol):
    """The interface every store implements; all methods may raise :class:`SessionStoreError`.

    A store may also offer ``load_sync(session_id) -> Record | None``: the same as
    :meth:`load`, as a plain (blocking) call. It is optional, and not part of this
    protocol's checks. The :class:`~relays_sessions.Sessions` component uses it
    when a sync handler first uses a session that is not loaded yet: the handler
    runs on the event loop's thread and cannot await, so the load blocks the loop
    for one short round trip. Keep it short: a local lookup, or a network call
    bounded by a small timeout. Without it, sync handlers need
    ``Sessions(preload=True)``, and async handlers ``await request.session.load()``.
    """

    async def load(self, session_id: str) -> Record | None:
        """The session, or None when it does not exist or has expired."""

    async def save(self, session_id: str, changes: Changes) -> None:
        """Apply *changes* to the stored session atomically (see :class:`Changes`)."""

    async def touch(self, session_id: str, expires: float) -> None:
        """Move an existing session's expiry to *expires*; nothing when it is gone."""

    async def delete(self, session_id: str) -> None:
        """Forget the session (nothing when it is gone)."""

    async def close(self) -> None:
        """Release connections and files; the store may be used again afterwards."""


StoreFactory = Callable[[str], SessionStore]


def _manager() -> pluggy.PluginManager:
    """The kernel's plugin manager, with our hook spec and built-in stores on it."""
    import relays

    from . import hookspecs, plugin

    manager = relays.plugin_manager()
    caller = getattr(manager.hook, "relays_session_store", None)
    if caller is None or not caller.has_spec():
        manager.add_hookspecs(hookspecs)
    # Without entry points (RELAYS_DISABLE_PLUGIN_AUTOLOAD) the built-in stores are
    # still ours to offer, unless the user blocked the plugin by name.
    missing = manager.get_plugin("sessions") is None and not manager.is_registered(plugin)
    if missing and not manager.is_blocked("sessions"):
        manager.register(plugin, name="sessions")
    return manager


def open_store(url: str) -> SessionStore:
    """The store for *url*: ``memory://``, ``sqlite:///path/sessions.db``, ``redis://host:6379/0``.

    Raises :class:`StoreNotFound` naming what to install when nobody serves the scheme.
    """
    scheme, separator, _ = url.partition("://")
    if not separator or not scheme:
        raise StoreNotFound(
            f"a session store is a URL such as memory://, sqlite:///var/lib/app/sessions.db "
            f"or redis://127.0.0.1:6379/0, not {url!r}"
        )
    factory: StoreFactory | None = _manager().hook.relays_session_store(scheme=scheme.lower())
    if factory is None:
        raise StoreNotFound(
            f"no session store {scheme!r} is installed (built in: memory, sqlite, redis); "
            "a plugin adds one by implementing relays_session_store"
        )
    return factory(url)
