"""The Redis store: sessions shared by every process and machine that reach one Redis.

One Redis hash per session, ``<key_prefix><id>``: a field ``k:<key>`` per session
key holding its JSON text, and ``_created``. Redis itself expires the hash (a
``PEXPIREAT`` at the session's expiry time), so nothing needs sweeping.

Per-key merging: a save runs as one Lua script, which Redis executes atomically:
it checks that the session still exists (or may be created), deletes the deleted
fields, sets the written ones (``HSET`` per key) and moves the expiry. Two
requests of one session that change different keys keep both changes, on any
number of processes.

The client is :mod:`redis.asyncio` (``pip install 'relays-sessions[redis]'``),
made on first use, so a store built before ``relays serve --workers`` forks
connects from each worker.

``load_sync`` (a sync handler's first use of a session) cannot use that client
without awaiting: it has a blocking :class:`redis.Redis` of its own, also made on
first use, with a small pool (``sync_connections``: the loop's thread needs one)
and a short ``sync_timeout`` for connecting and reading, and no retries, so that
a Redis outage blocks the event loop for at most that long per load before the
request gets its 503.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from ._store import Changes, Record, SessionStoreError, StoreNotFound

if TYPE_CHECKING:
    import redis
    import redis.asyncio

__all__ = ["RedisStore"]

_FIELD = "k:"
_CREATED = "_created"
# The URL parameters that are the store's own, not redis-py's.
_OPTIONS = frozenset({"key_prefix", "sync_timeout", "sync_connections"})

# KEYS[1]: the hash. ARGV: create ("1"/"0"), created, expiry (ms since the epoch),
# the number of deleted fields, the deleted fields, then written field/value pairs.
_SAVE = """
if redis.call('EXISTS', KEYS[1]) == 0 then
  if ARGV[1] ~= '1' then return 0 end
  redis.call('HSET', KEYS[1], '_created', ARGV[2])
end
local deleted = tonumber(ARGV[4])
local index = 5
for _ = 1, deleted do
  redis.call('HDEL', KEYS[1], ARGV[index])
  index = index + 1
end
while index < #ARGV do
  redis.call('HSET', KEYS[1], ARGV[index], ARGV[index + 1])
  index = index + 2
end
redis.call('PEXPIREAT', KEYS[1], ARGV[3])
return 1
"""


def _milliseconds(seconds: float) -> int:
    return max(int(seconds * 1000), 1)


class RedisStore:
    """Sessions in Redis at *url* (``redis://host:6379/0``, ``rediss://`` for TLS).

    *key_prefix* starts every session's key, so several apps can share one Redis.
    *sync_timeout* (seconds) bounds each blocking call of :meth:`load_sync`, which
    has a pool of at most *sync_connections*. Any parameter redis-py understands
    may be in the URL's query, plus ``key_prefix``, ``sync_timeout`` and
    ``sync_connections``.
    """

    def __init__(
        self,
        url: str = "redis://127.0.0.1:6379/0",
        *,
        key_prefix: str = "relays:session:",
        sync_timeout: float = 0.5,
        sync_connections: int = 2,
        clock: Callable[[], float] = time.time,
    ) -> None:
        try:
            import redis.asyncio  # noqa: F401 - fail now, with advice, not on the first request
        except ImportError:
            raise StoreNotFound(
                "the Redis session store needs the redis client: "
                "pip install 'relays-sessions[redis]'"
            ) from None
        if not sync_timeout > 0:
            raise ValueError(
                f"sync_timeout must be a positive number of seconds, not {sync_timeout!r}"
            )
        if sync_connections < 1:
            raise ValueError(f"sync_connections must be at least 1, not {sync_connections}")
        #: The Redis URL (without our own parameters).
        self.url = url
        self.key_prefix = key_prefix
        #: Seconds a :meth:`load_sync` may block for, connecting or reading.
        self.sync_timeout = sync_timeout
        #: Most connections of :meth:`load_sync`'s own pool.
        self.sync_connections = sync_connections
        self._clock = clock
        self._client: redis.asyncio.Redis | None = None
        self._sync_client: redis.Redis | None = None
        self._save: Any = None

    @classmethod
    def from_url(cls, url: str) -> RedisStore:
        """The store for *url*, taking ``key_prefix``, ``sync_timeout`` and
        ``sync_connections`` out of its query."""
        parts = urlsplit(url)
        query = parse_qsl(parts.query, keep_blank_values=True)
        ours = {name: value for name, value in query if name in _OPTIONS}
        rest = urlencode([(name, value) for name, value in query if name not in _OPTIONS])
        clean = urlunsplit(parts._replace(query=rest))
        options: dict[str, Any] = {}
        if "key_prefix" in ours:
            options["key_prefix"] = ours["key_prefix"]
        if "sync_timeout" in ours:
            options["sync_timeout"] = float(ours["sync_timeout"])
        if "sync_connections" in ours:
            options["sync_connections"] = int(ours["sync_connections"])
        return cls(clean, **options)

    def __repr__(self) -> str:
        parts = urlsplit(self.url)
        host = parts.hostname or ""
        shown = f"{parts.scheme}://{host}:{parts.port or 6379}{parts.path}"  # never a password
        return f"<RedisStore {shown} prefix={self.key_prefix!r}>"

    def _connect(self) -> redis.asyncio.Redis:
        client = self._client
        if client is None:
            import redis.asyncio

            client = self._client = redis.asyncio.Redis.from_url(self.url, decode_responses=True)
            self._save = client.register_script(_SAVE)
        return client

    def _connect_sync(self) -> redis.Redis:
        client = self._sync_client
        if client is None:
            import redis
            from redis.backoff import NoBackoff
            from redis.connection import parse_url
            from redis.retry import Retry

            options: dict[str, Any] = parse_url(self.url)  # type: ignore[no-untyped-call]
            # Ours win over the URL's: those are the async client's, which may wait longer.
            options.update(
                decode_responses=True,
                socket_timeout=self.sync_timeout,
                socket_connect_timeout=self.sync_timeout,
                retry=Retry(NoBackoff(), 0),
            )
            pool = redis.BlockingConnectionPool(  # type: ignore[no-untyped-call]
                max_connections=self.sync_connections, timeout=self.sync_timeout, **options
            )
            client = self._sync_client = redis.Redis(connection_pool=pool)
        return client

    def _failed(self, error: Exception) -> SessionStoreError:
        return SessionStoreError(f"Redis session store {self!r}: {error}")

    # -- the store -------------------------------------------------------------------

    async def load(self, session_id: str) -> Record | None:
        import redis

        key = self.key_prefix + session_id
        try:
            async with self._connect().pipeline(transaction=True) as pipe:
                pipe.hgetall(key)
                pipe.pttl(key)
                fields, remaining = await pipe.execute()
        except (redis.RedisError, OSError) as error:
            raise self._failed(error) from error
        return self._record(fields, remaining)

    def load_sync(self, session_id: str) -> Record | None:
        """:meth:`load` with the blocking client: at most ``sync_timeout`` per step."""
        import redis

        key = self.key_prefix + session_id
        try:
            with self._connect_sync().pipeline(transaction=True) as pipe:
                pipe.hgetall(key)
                pipe.pttl(key)
                fields, remaining = pipe.execute()
        except (redis.RedisError, OSError) as error:
            raise self._failed(error) from error
        return self._record(fields, remaining)

    def _record(self, fields: dict[str, str], remaining: int) -> Record | None:
        if not fields or remaining < 0:
            return None
        try:
            created = float(fields.pop(_CREATED))
        except (KeyError, ValueError):
            return None  # not a session we wrote
        data = {name[2:]: text for name, text in fields.items() if name.startswith(_FIELD)}
        return Record(data, created, self._clock() + remaining / 1000)

    async def save(self, session_id: str, changes: Changes) -> None:
        import redis

        arguments: list[Any] = [
            "1" if changes.create else "0",
            repr(changes.created),
            _milliseconds(changes.expires),
            len(changes.deleted),
        ]
        arguments.extend(_FIELD + key for key in changes.deleted)
        for key, text in changes.written.items():
            arguments.extend((_FIELD + key, text))
        try:
            self._connect()
            await self._save(keys=[self.key_prefix + session_id], args=arguments)
        except (redis.RedisError, OSError) as error:
            raise self._failed(error) from error

    async def touch(self, session_id: str, expires: float) -> None:
        import redis

        try:
            await self._connect().pexpireat(self.key_prefix + session_id, _milliseconds(expires))
        except (redis.RedisError, OSError) as error:
            raise self._failed(error) from error

    async def delete(self, session_id: str) -> None:
        import redis

        try:
            await self._connect().delete(self.key_prefix + session_id)
        except (redis.RedisError, OSError) as error:
            raise self._failed(error) from error

    async def close(self) -> None:
        """Close the connection pools; the next use connects again."""
        client = self._client
        sync_client = self._sync_client
        self._client = None
        self._sync_client = None
        self._save = None
        if sync_client is not None:
            sync_client.connection_pool.disconnect()  # closes sockets: no I/O to wait for
        if client is not None:
            await client.aclose()
