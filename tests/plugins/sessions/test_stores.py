"""The store contract: every store (memory, SQLite, Redis) passes the same tests."""

from __future__ import annotations

import asyncio
import socket
import sqlite3
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from relays_sessions import (
    Changes,
    MemoryStore,
    Record,
    SessionStore,
    SessionStoreError,
    open_store,
)
from relays_sessions._sqlite import SQLiteStore

NewStore = Callable[[], SessionStore]


@asynccontextmanager
async def opened(store: SessionStore) -> AsyncIterator[SessionStore]:
    try:
        yield store
    finally:
        await store.close()


def changes(
    written: dict[str, str] | None = None,
    deleted: set[str] | None = None,
    *,
    create: bool = True,
    created: float | None = None,
    lifetime: float = 60.0,
) -> Changes:
    now = time.time()
    return Changes(
        written or {},
        frozenset(deleted or ()),
        created if created is not None else now,
        now + lifetime,
        create,
    )


async def test_a_saved_session_loads_with_its_data_and_times(new_store: NewStore) -> None:
    async with opened(new_store()) as store:
        assert await store.load("nobody") is None
        created = time.time() - 5
        await store.save("a", changes({"x": "1", "name": '"Ada"'}, created=created))
        record = await store.load("a")
        assert record is not None
        assert dict(record.data) == {"x": "1", "name": '"Ada"'}
        assert record.created == pytest.approx(created, abs=0.001)
        assert record.expires == pytest.approx(time.time() + 60, abs=2)


async def test_save_merges_per_key(new_store: NewStore) -> None:
    async with opened(new_store()) as store:
        await store.save("a", changes({"x": "1", "y": "2", "z": "3"}))
        await store.save("a", changes({"y": "20"}, create=False))
        await store.save("a", changes({"w": "4"}, {"z"}, create=False))
        record = await store.load("a")
        assert record is not None
        assert dict(record.data) == {"x": "1", "y": "20", "w": "4"}


async def test_concurrent_saves_of_different_keys_keep_both(new_store: NewStore) -> None:
    async with opened(new_store()) as one, opened(new_store()) as other:
        await one.save("a", changes({"start": "0"}))
        writes = [
            (one if index % 2 else other).save(
                "a", changes({f"k{index}": str(index)}, create=False)
            )
            for index in range(20)
        ]
        await asyncio.gather(*writes)
        record = await one.load("a")
        assert record is not None
        assert dict(record.data) == {"start": "0", **{f"k{i}": str(i) for i in range(20)}}


async def test_a_gone_session_is_not_recreated_without_create(new_store: NewStore) -> None:
    async with opened(new_store()) as store:
        await store.save("a", changes({"x": "1"}, create=False))
        assert await store.load("a") is None
        await store.save("a", changes({"x": "1"}))
        await store.delete("a")
        await store.save("a", changes({"y": "2"}, create=False))
        assert await store.load("a") is None


async def test_create_keeps_the_original_creation_time(new_store: NewStore) -> None:
    async with opened(new_store()) as store:
        await store.save("a", changes({"x": "1"}, created=1000.0))
        await store.save("a", changes({"y": "2"}, created=2000.0))
        record = await store.load("a")
        assert record is not None
        assert record.created == 1000.0


async def test_expired_sessions_are_gone(new_store: NewStore) -> None:
    async with opened(new_store()) as store:
        await store.save("short", changes({"x": "1"}, lifetime=0.2))
        await store.save("long", changes({"x": "1"}, lifetime=60))
        await asyncio.sleep(0.35)
        assert await store.load("short") is None
        assert await store.load("long") is not None
        await store.save("short", changes({"y": "2"}, create=False))
        assert await store.load("short") is None


async def test_touch_moves_the_expiry_of_existing_sessions_only(new_store: NewStore) -> None:
    async with opened(new_store()) as store:
        await store.save("a", changes({"x": "1"}, lifetime=0.3))
        await store.touch("a", time.time() + 60)
        await store.touch("nobody", time.time() + 60)
        await asyncio.sleep(0.45)
        record = await store.load("a")
        assert record is not None
        assert record.expires == pytest.approx(time.time() + 60, abs=2)
        assert await store.load("nobody") is None


async def test_delete_forgets_and_tolerates_unknown_ids(new_store: NewStore) -> None:
    async with opened(new_store()) as store:
        await store.save("a", changes({"x": "1"}))
        await store.delete("a")
        await store.delete("a")
        assert await store.load("a") is None


async def test_values_and_keys_round_trip_exactly(new_store: NewStore) -> None:
    data = {
        "unicode ключ": '"héllo ☃"',
        "": "null",
        "k:tricky": '{"nested":[1,2,{"a":null}]}',
        "_created": "42",
        "big": '"' + "x" * 100_000 + '"',
    }
    async with opened(new_store()) as store:
        await store.save("a", changes(data))
        record = await store.load("a")
        assert record is not None
        assert dict(record.data) == data


async def test_a_closed_store_works_again(new_store: NewStore) -> None:
    store = new_store()
    await store.save("a", changes({"x": "1"}))
    await store.close()
    await store.close()
    async with opened(store):
        assert await store.load("a") is not None


def load_sync(store: SessionStore, session_id: str) -> Record | None:
    """The store's optional synchronous load; every built-in store has one."""
    method: Callable[[str], Record | None] = getattr(store, "load_sync")  # noqa: B009
    return method(session_id)


async def test_load_sync_agrees_with_load(new_store: NewStore) -> None:
    async with opened(new_store()) as store:
        assert load_sync(store, "nobody") is None
        await store.save("a", changes({"x": "1", "name": '"Ada"'}))
        await store.save("short", changes({"x": "1"}, lifetime=0.2))
        record = load_sync(store, "a")
        assert record is not None
        again = await store.load("a")
        assert again is not None
        assert dict(record.data) == dict(again.data) == {"x": "1", "name": '"Ada"'}
        assert record.created == pytest.approx(again.created, abs=0.001)
        assert record.expires == pytest.approx(again.expires, abs=0.01)
        await asyncio.sleep(0.35)
        assert load_sync(store, "short") is None
    async with opened(store):  # closed, then used again: it reconnects
        assert load_sync(store, "a") is not None


async def test_sqlite_load_sync_reads_while_another_process_writes(tmp_path: Path) -> None:
    # WAL: a read takes no lock a writer holds, so the loop never waits for a save.
    async with opened(SQLiteStore(tmp_path / "s.db", sync_timeout=0.05)) as store:
        await store.save("a", changes({"x": "1"}))
        writer = sqlite3.connect(tmp_path / "s.db", isolation_level=None)
        try:
            writer.execute("BEGIN IMMEDIATE")
            writer.execute("UPDATE relays_sessions SET data = '{}'")
            record = load_sync(store, "a")
            assert record is not None
            assert dict(record.data) == {"x": "1"}  # what was committed
            writer.execute("COMMIT")
        finally:
            writer.close()
        again = load_sync(store, "a")
        assert again is not None
        assert dict(again.data) == {}


def test_sqlite_load_sync_failures_are_store_errors(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "missing" / "dir" / "s.db")
    with pytest.raises(SessionStoreError, match="SQLite session store"):
        load_sync(store, "a")


def test_every_built_in_store_is_a_session_store(tmp_path: Path) -> None:
    assert isinstance(MemoryStore(), SessionStore)
    assert isinstance(SQLiteStore(tmp_path / "x.db"), SessionStore)


async def test_sqlite_data_survives_a_new_store_on_the_same_file(tmp_path: Path) -> None:
    async with opened(open_store(f"sqlite://{tmp_path}/s.db")) as store:
        await store.save("a", changes({"x": "1"}))
    async with opened(open_store(f"sqlite://{tmp_path}/s.db")) as again:
        record = await again.load("a")
        assert record is not None
        assert dict(record.data) == {"x": "1"}


async def test_sqlite_failures_are_store_errors(tmp_path: Path) -> None:
    async with opened(SQLiteStore(tmp_path / "missing" / "dir" / "s.db")) as store:
        with pytest.raises(SessionStoreError, match="SQLite session store"):
            await store.load("a")


async def test_sqlite_sweeps_expired_rows(tmp_path: Path) -> None:
    async with opened(SQLiteStore(tmp_path / "s.db", sweep_interval=0)) as store:
        await store.save("old", changes({"x": "1"}, lifetime=0.05))
        await asyncio.sleep(0.1)
        await store.save("new", changes({"x": "1"}))

        def count(connection: object) -> int:
            return int(connection.execute("SELECT COUNT(*) FROM relays_sessions").fetchone()[0])  # type: ignore[attr-defined]

        assert await store._run(count) == 1  # type: ignore[arg-type]


async def test_memory_store_sweeps_and_stays_within_its_limit() -> None:
    now = [1000.0]
    store = MemoryStore(max_sessions=3, sweep_interval=10, clock=lambda: now[0])
    for name in "abc":
        await store.save(name, Changes({"x": "1"}, frozenset(), now[0], now[0] + 5, True))
    await store.save("d", Changes({"x": "1"}, frozenset(), now[0], now[0] + 50, True))
    assert len(store) == 3
    assert await store.load("d") is not None
    now[0] += 20
    assert store.sweep() == 2
    assert len(store) == 1


async def test_redis_outage_is_a_store_error() -> None:
    pytest.importorskip("redis")
    from relays_sessions._redis import RedisStore

    # A port that is bound but never listens: connecting to it is refused.
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        port = holder.getsockname()[1]
        async with opened(RedisStore(f"redis://127.0.0.1:{port}/0")) as store:
            with pytest.raises(SessionStoreError, match="Redis session store"):
                await store.load("a")
            with pytest.raises(SessionStoreError):
                await store.save("a", changes({"x": "1"}))
    assert "password" not in repr(RedisStore("redis://user:password@127.0.0.1:1/0"))


def test_redis_load_sync_gives_up_after_its_timeout() -> None:
    pytest.importorskip("redis")
    from relays_sessions._redis import RedisStore

    # A server that accepts connections and never answers: each read times out.
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        port = silent.getsockname()[1]
        store = RedisStore(f"redis://127.0.0.1:{port}/0?socket_timeout=30", sync_timeout=0.2)
        started = time.monotonic()
        with pytest.raises(SessionStoreError, match="Redis session store"):
            load_sync(store, "a")
        elapsed = time.monotonic() - started
        assert 0.15 <= elapsed < 1.0  # the URL's 30 s is the async client's; no retries
    with socket.socket() as holder:  # refused: at once
        holder.bind(("127.0.0.1", 0))
        store = RedisStore(f"redis://127.0.0.1:{holder.getsockname()[1]}/0")
        with pytest.raises(SessionStoreError, match="Redis session store"):
            load_sync(store, "a")
