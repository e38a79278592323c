"""relays-sessions: signed-cookie HTTP sessions for relays-http.

Register :class:`Sessions` next to the server's components and every request gets
a :class:`Session` (:func:`session_of`), loaded when first used and saved when the
response is sent, in memory, SQLite or Redis. See ``docs/howto/sessions.rst``.
"""

from ._login import SessionLogin, login_form
from ._memory import MemoryStore
from ._redis import RedisStore
from ._session import Session
from ._sessions import (
    PRIORITY,
    SESSION_KEY,
    NoSession,
    SessionNotLoaded,
    Sessions,
    SessionUnavailable,
    session_of,
)
from ._signing import Signer
from ._sqlite import SQLiteStore
from ._store import (
    Changes,
    Record,
    SessionStore,
    SessionStoreError,
    StoreNotFound,
    open_store,
)

__all__ = [
    "PRIORITY",
    "SESSION_KEY",
    "Changes",
    "MemoryStore",
    "NoSession",
    "Record",
    "RedisStore",
    "SQLiteStore",
    "Session",
    "SessionLogin",
    "SessionNotLoaded",
    "SessionStore",
    "SessionStoreError",
    "SessionUnavailable",
    "Sessions",
    "Signer",
    "StoreNotFound",
    "login_form",
    "open_store",
    "session_of",
]
