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
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from ._store import Changes, Record, SessionStoreError, StoreNotFound

if TYPE_CHECKING:
    import redis.asyncio

__all__ = ["RedisStore"]

_FIELD = "k:"
_CREATED = "_created"

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
    Any parameter redis-py understands may be in the URL's query, plus
    ``key_prefix``.
    """

    def __init__(
        self,
        url: str = "redis://127.0.0.1:6379/0",
        *,
        key_prefix: str = "relays:session:",
        clock: Callable[[], float] = time.time,
    ) -> None:
        try:
            import redis.asyncio  # noqa: F401 - fail now, with advice, not on the first request
        except ImportError:
            raise StoreNotFound(
                "the Redis session store needs the redis client: "
                "pip install 'relays-sessions[redis]'"
            ) from None
        #: The Redis URL (without our own parameters).
        self.url = url
        self.key_prefix = key_prefix
        self._clock = clock
        self._client: redis.asyncio.Redis | None = None
        self._save: Any = None

    @classmethod
    def from_url(cls, url: str) -> RedisStore:
        """The store for *url*, taking ``key_prefix`` out of its query."""
        parts = urlsplit(url)
        query = parse_qsl(parts.query, keep_blank_values=True)
        prefix = [value for name, value in query if name == "key_prefix"]
        rest = urlencode([(name, value) for name, value in query if name != "key_prefix"])
        clean = urlunsplit(parts._replace(query=rest))
        if prefix:
            return cls(clean, key_prefix=prefix[-1])
        return cls(clean)

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
        """Close the connection pool; the next use connects again."""
        client = self._client
        self._client = None
        self._save = None
        if client is not None:
            await client.aclose()
