"""The plugin: the sessions dispatcher, the store hook (built-in and third-party stores)."""

from __future__ import annotations

from pathlib import Path

import pytest

import relays
from relays.hookspecs import hookimpl
from relays_sessions import MemoryStore, Sessions, SessionStore, StoreNotFound, open_store
from relays_sessions import plugin as sessions_plugin
from relays_sessions._sqlite import SQLiteStore


def test_the_kernel_finds_the_sessions_dispatcher() -> None:
    assert relays.find_dispatcher("sessions") is Sessions


def test_the_plugin_says_what_it_provides() -> None:
    provided = {(item.kind, item.name) for item in sessions_plugin.relays_provides()}
    assert ("dispatcher", "sessions") in provided
    assert {("session-store", name) for name in ("memory", "sqlite", "redis")} <= provided


def test_built_in_stores_are_found_by_url(tmp_path: Path) -> None:
    memory = open_store("memory://?max_sessions=10&sweep_interval=5")
    assert isinstance(memory, MemoryStore)
    assert (memory.max_sessions, memory.sweep_interval) == (10, 5.0)
    absolute = open_store(f"sqlite://{tmp_path}/s.db?busy_timeout=1&sync_timeout=0.2")
    assert isinstance(absolute, SQLiteStore)
    assert absolute.path == tmp_path / "s.db"
    assert (absolute.busy_timeout, absolute.sync_timeout) == (1.0, 0.2)
    relative = open_store("SQLITE://data/sessions.db")
    assert isinstance(relative, SQLiteStore)
    assert relative.path == Path("data/sessions.db")


def test_the_redis_store_takes_its_prefix_from_the_url() -> None:
    pytest.importorskip("redis")
    from relays_sessions._redis import RedisStore

    store = open_store("redis://127.0.0.1:6390/2?key_prefix=app:s:&socket_timeout=1")
    assert isinstance(store, RedisStore)
    assert store.key_prefix == "app:s:"
    assert store.url == "redis://127.0.0.1:6390/2?socket_timeout=1"
    assert (store.sync_timeout, store.sync_connections) == (0.5, 2)
    tuned = open_store("redis://h/0?sync_timeout=0.1&sync_connections=4&db=1")
    assert isinstance(tuned, RedisStore)
    assert (tuned.sync_timeout, tuned.sync_connections) == (0.1, 4)
    assert tuned.url == "redis://h/0?db=1"
    with pytest.raises(ValueError, match="sync_timeout must be a positive"):
        RedisStore(sync_timeout=0)
    with pytest.raises(ValueError, match="sync_connections must be at least 1"):
        RedisStore(sync_connections=0)


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("nowhere", "a session store is a URL"),
        ("://x", "a session store is a URL"),
        ("memcached://host", "no session store 'memcached' is installed"),
        ("memory://?colour=blue", "unknown memory store options"),
        ("sqlite://", "names a file"),
        ("sqlite:///x.db?mode=ro", "unknown SQLite store options"),
    ],
)
def test_bad_store_urls_say_what_to_do(url: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        open_store(url)


def test_store_not_found_is_a_lookup_error_too() -> None:
    with pytest.raises(LookupError):
        open_store("memcached://host")
    assert issubclass(StoreNotFound, ValueError)


class ThirdPartyStore(MemoryStore):
    def __init__(self, url: str) -> None:
        super().__init__()
        self.url = url


class ThirdPartyPlugin:
    @hookimpl
    def relays_session_store(self, scheme: str) -> type[ThirdPartyStore] | None:
        return ThirdPartyStore if scheme in ("thirdparty", "memory") else None


def test_a_plugin_adds_a_store_through_the_hook() -> None:
    manager = relays.plugin_manager()
    plugin = ThirdPartyPlugin()
    manager.register(plugin, name="test-third-party-store")
    try:
        store = open_store("thirdparty://somewhere")
        assert isinstance(store, ThirdPartyStore)
        assert store.url == "thirdparty://somewhere"
        assert isinstance(store, SessionStore)
        sessions = Sessions("thirdparty://x", secret="0123456789abcdef")
        assert isinstance(sessions.store, ThirdPartyStore)
        # Registered last, called first: a plugin may even replace a built-in store.
        assert isinstance(open_store("memory://"), ThirdPartyStore)
    finally:
        manager.unregister(plugin)
    assert type(open_store("memory://")) is MemoryStore


def test_the_hook_spec_is_documented() -> None:
    from relays_sessions import hookspecs

    manager = relays.plugin_manager()
    open_store("memory://")
    caller = manager.hook.relays_session_store
    assert caller.has_spec()
    assert caller.spec is not None
    assert caller.spec.opts["firstresult"]
    assert hookspecs.relays_session_store.__doc__
