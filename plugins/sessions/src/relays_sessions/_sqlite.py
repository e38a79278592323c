"""The SQLite store: sessions in one database file, kept across restarts.

One row per session: the id, the data as a JSON object of key to JSON text, and
the creation and expiry times. The store owns one connection, used from one
thread of its own (blocking file I/O never runs on the event loop), made on first
use so that a store built before ``relays serve --workers`` forks is fine.

Per-key merging: :meth:`SQLiteStore.save` reads the row and writes it back in one
``BEGIN IMMEDIATE`` transaction, which takes SQLite's write lock first. Saves are
therefore serialized across threads *and processes* sharing the file, and each
applies only its own request's changed keys to the latest stored data. The
database runs in WAL mode, so loads are not blocked by a save in progress.

``load_sync`` (a sync handler's first use of a session) reads on the caller's
thread, the event loop's, through a second connection of its own: sharing the
worker thread's would mean waiting behind its queue (a save may wait up to
``busy_timeout`` for another process's lock), and running a statement inside a
transaction the thread has open. A WAL read takes no lock a writer holds, so
it is one indexed lookup in a file the OS has cached; ``sync_timeout`` bounds
the rare wait (a checkpoint, the schema being created). A lock serializes the
connection's users, in case sync handlers run in threads.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import parse_qsl, urlsplit

from ._store import Changes, Record, SessionStoreError

__all__ = ["SQLiteStore"]

T = TypeVar("T")

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS relays_sessions ("
    " id TEXT PRIMARY KEY, data TEXT NOT NULL, created REAL NOT NULL, expires REAL NOT NULL)",
    "CREATE INDEX IF NOT EXISTS relays_sessions_expires ON relays_sessions (expires)",
)


class SQLiteStore:
    """Sessions in the SQLite database at *path*; ``sqlite:///var/lib/app/sessions.db``.

    *busy_timeout* is how long a save waits for another process's write lock
    before failing with :class:`~relays_sessions.SessionStoreError` (a 503);
    *sync_timeout* is the same for :meth:`load_sync`, which blocks the event loop,
    so it is short.
    """

    def __init__(
        self,
        path: str | Path,
        *,
        busy_timeout: float = 5.0,
        sync_timeout: float = 0.5,
        sweep_interval: float = 300.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        #: The database file.
        self.path = Path(path)
        self.busy_timeout = busy_timeout
        #: Seconds :meth:`load_sync` may wait for a lock before failing.
        self.sync_timeout = sync_timeout
        #: Seconds between two deletions of expired rows (done by a save).
        self.sweep_interval = sweep_interval
        self._clock = clock
        self._next_sweep = 0.0
        self._connection: sqlite3.Connection | None = None
        self._executor: ThreadPoolExecutor | None = None
        self._sync_connection: sqlite3.Connection | None = None
        self._sync_lock = threading.Lock()

    @classmethod
    def from_url(cls, url: str) -> SQLiteStore:
        """``sqlite:///absolute/path.db`` or ``sqlite://relative/path.db``, with optional
        ``busy_timeout``, ``sync_timeout`` and ``sweep_interval`` parameters (seconds)."""
        parts = urlsplit(url)
        path = parts.netloc + parts.path
        if not path:
            raise ValueError(f"a SQLite store URL names a file: sqlite:///path/to/db, not {url!r}")
        options = dict(parse_qsl(parts.query))
        unknown = set(options) - {"busy_timeout", "sync_timeout", "sweep_interval"}
        if unknown:
            raise ValueError(f"unknown SQLite store options {sorted(unknown)} in {url!r}")
        return cls(
            path,
            busy_timeout=float(options.get("busy_timeout", 5.0)),
            sync_timeout=float(options.get("sync_timeout", 0.5)),
            sweep_interval=float(options.get("sweep_interval", 300.0)),
        )

    def __repr__(self) -> str:
        return f"<SQLiteStore {str(self.path)!r}>"

    # -- the thread ------------------------------------------------------------------

    async def _run(self, function: Callable[[sqlite3.Connection], T]) -> T:
        if self._executor is None:
            self._executor = ThreadPoolExecutor(1, thread_name_prefix="relays-sessions-sqlite")
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self._executor, self._call, function)
        except sqlite3.Error as error:
            raise self._failed(error) from error

    def _call(self, function: Callable[[sqlite3.Connection], T]) -> T:
        connection = self._connection
        if connection is None:
            connection = self._connection = self._open(self.busy_timeout)
        return function(connection)

    def _open(self, timeout: float) -> sqlite3.Connection:
        connection = sqlite3.connect(
            self.path, timeout=timeout, isolation_level=None, check_same_thread=False
        )
        try:
            connection.execute("PRAGMA journal_mode=WAL")
            connection.execute("PRAGMA synchronous=NORMAL")
            for statement in _SCHEMA:
                connection.execute(statement)
        except BaseException:
            connection.close()
            raise
        return connection

    def _failed(self, error: sqlite3.Error) -> SessionStoreError:
        return SessionStoreError(f"SQLite session store {str(self.path)!r}: {error}")

    # -- the store -------------------------------------------------------------------

    async def load(self, session_id: str) -> Record | None:
        now = self._clock()
        return _record(await self._run(lambda connection: _select(connection, session_id, now)))

    def load_sync(self, session_id: str) -> Record | None:
        """:meth:`load` on the caller's thread, through a connection of its own."""
        now = self._clock()
        with self._sync_lock:
            try:
                connection = self._sync_connection
                if connection is None:
                    connection = self._sync_connection = self._open(self.sync_timeout)
                row = _select(connection, session_id, now)
            except sqlite3.Error as error:
                raise self._failed(error) from error
        return _record(row)

    async def save(self, session_id: str, changes: Changes) -> None:
        now = self._clock()
        sweep = now >= self._next_sweep
        if sweep:
            self._next_sweep = now + self.sweep_interval

        def save(connection: sqlite3.Connection) -> None:
            connection.execute("BEGIN IMMEDIATE")
            try:
                if sweep:
                    connection.execute("DELETE FROM relays_sessions WHERE expires <= ?", (now,))
                row = connection.execute(
                    "SELECT data, created FROM relays_sessions WHERE id = ? AND expires > ?",
                    (session_id, now),
                ).fetchone()
                if row is None and not changes.create:
                    connection.execute("COMMIT")
                    return
                data: dict[str, str] = json.loads(row[0]) if row is not None else {}
                created = row[1] if row is not None else changes.created
                for key in changes.deleted:
                    data.pop(key, None)
                data.update(changes.written)
                connection.execute(
                    "INSERT OR REPLACE INTO relays_sessions (id, data, created, expires) "
                    "VALUES (?, ?, ?, ?)",
                    (session_id, json.dumps(data, ensure_ascii=False), created, changes.expires),
                )
                connection.execute("COMMIT")
            except BaseException:
                connection.execute("ROLLBACK")
                raise

        await self._run(save)

    async def touch(self, session_id: str, expires: float) -> None:
        now = self._clock()
        await self._run(
            lambda connection: connection.execute(
                "UPDATE relays_sessions SET expires = ? WHERE id = ? AND expires > ?",
                (expires, session_id, now),
            )
        )

    async def delete(self, session_id: str) -> None:
        await self._run(
            lambda connection: connection.execute(
                "DELETE FROM relays_sessions WHERE id = ?", (session_id,)
            )
        )

    async def close(self) -> None:
        """Close the connections and stop the thread; the next use opens them again."""
        with self._sync_lock:
            if self._sync_connection is not None:
                self._sync_connection.close()
                self._sync_connection = None
        executor = self._executor
        if executor is None:
            return

        def close(connection: sqlite3.Connection) -> None:
            connection.close()
            self._connection = None

        if self._connection is not None:
            await self._run(close)
        self._executor = None
        executor.shutdown(wait=False)


def _select(connection: sqlite3.Connection, session_id: str, now: float) -> Any:
    return connection.execute(
        "SELECT data, created, expires FROM relays_sessions WHERE id = ? AND expires > ?",
        (session_id, now),
    ).fetchone()


def _record(row: Any) -> Record | None:
    if row is None:
        return None
    return Record(json.loads(row[0]), row[1], row[2])
