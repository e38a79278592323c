"""Lazy loading: a session is read from the store only when a handler first uses it.

Every store kind runs these (memory, SQLite, and a real Redis): a sync handler
loads through the store's ``load_sync``, an async one awaits ``load``, and a
request that never looks at its session costs no store access at all.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

import pytest

from relays_http import Controller, Dispatcher, Request
from relays_http.testing import Client, ClientResponse, memory_server
from relays_sessions import (
    Changes,
    MemoryStore,
    Record,
    Session,
    SessionNotLoaded,
    Sessions,
    SessionStore,
    SessionStoreError,
    SessionUnavailable,
    Signer,
    session_of,
)

SECRET = "test-secret-0123456789abcdef"


class Counting:
    """Passes every call on to *inner* and notes its name: no ``load_sync`` offered."""

    def __init__(self, inner: SessionStore) -> None:
        self.inner = inner
        self.calls: list[str] = []

    async def load(self, session_id: str) -> Record | None:
        self.calls.append("load")
        return await self.inner.load(session_id)

    async def save(self, session_id: str, changes: Changes) -> None:
        self.calls.append("save")
        await self.inner.save(session_id, changes)

    async def touch(self, session_id: str, expires: float) -> None:
        self.calls.append("touch")
        await self.inner.touch(session_id, expires)

    async def delete(self, session_id: str) -> None:
        self.calls.append("delete")
        await self.inner.delete(session_id)

    async def close(self) -> None:
        await self.inner.close()

    def __repr__(self) -> str:
        return f"<Counting {self.inner!r}>"


class CountingSync(Counting):
    """A counting store that loads synchronously too, through *inner*'s ``load_sync``."""

    def load_sync(self, session_id: str) -> Record | None:
        self.calls.append("load_sync")
        load_sync: Callable[[str], Record | None] = getattr(self.inner, "load_sync")  # noqa: B009
        return load_sync(session_id)


class Root(Controller):
    """Pages that use the session from a sync handler, an async one, or not at all."""

    def none(self) -> str:
        return "untouched"

    def count(self) -> str:
        session = session_of(self.request)
        session["count"] = session.get("count", 0) + 1
        return str(session["count"])

    def read(self) -> str:
        return repr(sorted(session_of(self.request).items()))

    async def acount(self) -> str:
        session = await session_of(self.request).load()
        session["count"] = session.get("count", 0) + 1
        return str(session["count"])

    async def aread(self) -> str:
        session: Session = await self.request.session  # awaiting the session loads it
        assert await session.load() is session  # and loading again costs nothing
        return repr(sorted(session.items()))

    def guarded(self) -> str:
        try:
            return f"count {session_of(self.request).get('count')}"
        except SessionStoreError:
            return "no session today"


def make(store: Any, **options: Any) -> tuple[Any, Any]:
    sessions = Sessions(store, secret=SECRET, **options)
    return memory_server(sessions, Dispatcher(), Root())


def cookie_of(response: ClientResponse) -> str | None:
    for value in response.headers.getall("Set-Cookie"):
        return value.split(";")[0]
    return None


async def get(client: Client, path: str, cookie: str | None) -> ClientResponse:
    headers = {"Cookie": cookie} if cookie else {}
    return await client.get(path, headers=headers)


async def test_a_request_that_never_uses_its_session_costs_nothing(
    new_store: Callable[[], SessionStore],
) -> None:
    now = [time.time()]  # the stores keep their own clock: stay near theirs
    store = CountingSync(new_store())
    server, transport = make(store, idle_timeout=100, clock=lambda: now[0])
    async with server:
        client = Client(transport)
        first = await get(client, "/count", None)
        assert (first.status, first.text) == (200, "1")
        assert store.calls == ["save"]  # a new session: nothing to load
        cookie = cookie_of(first)
        store.calls.clear()
        now[0] += 50  # a touch would be due, for a session used
        untouched = await get(client, "/none", cookie)
        assert (untouched.status, untouched.text) == (200, "untouched")
        assert store.calls == []  # no load, no touch, no save
        assert cookie_of(untouched) is None  # and no cookie
        read = await get(client, "/read", cookie)
        assert read.text == "[('count', 1)]"
        assert store.calls == ["load_sync", "touch"]


async def test_an_old_key_cookie_is_not_signed_again_unless_used() -> None:
    store = CountingSync(MemoryStore())
    server, transport = make(store)
    async with server:
        cookie = cookie_of(await get(Client(transport), "/count", None))
    assert cookie is not None
    rotated = Sessions(store, secret="the-new-secret-0123456789", old_secrets=[SECRET])
    server, transport = memory_server(rotated, Dispatcher(), Root())
    async with server:
        client = Client(transport)
        store.calls.clear()
        assert cookie_of(await get(client, "/none", cookie)) is None
        assert store.calls == []
        resigned = cookie_of(await get(client, "/read", cookie))
        assert resigned is not None
        assert resigned != cookie


async def test_a_sync_handler_loads_on_first_use_once(
    new_store: Callable[[], SessionStore],
) -> None:
    store = CountingSync(new_store())
    server, transport = make(store)
    async with server:
        client = Client(transport)
        cookie = cookie_of(await get(client, "/count", None))
        store.calls.clear()
        assert (await get(client, "/count", cookie)).text == "2"  # three uses, one load
        assert store.calls == ["load_sync", "save"]
        store.calls.clear()
        assert (await get(client, "/read", cookie)).text == "[('count', 2)]"
        assert store.calls == ["load_sync"]


async def test_an_async_handler_awaits_the_load(new_store: Callable[[], SessionStore]) -> None:
    store = CountingSync(new_store())
    server, transport = make(store)
    async with server:
        client = Client(transport)
        cookie = cookie_of(await get(client, "/acount", None))
        store.calls.clear()
        assert (await get(client, "/acount", cookie)).text == "2"
        assert store.calls == ["load", "save"]
        store.calls.clear()
        assert (await get(client, "/aread", cookie)).text == "[('count', 2)]"
        assert store.calls == ["load"]  # awaited twice, loaded once
        assert (await get(client, "/count", cookie)).text == "3"  # sync and async agree


async def test_a_store_without_load_sync_says_what_to_do(
    caplog: pytest.LogCaptureFixture,
) -> None:
    store = Counting(MemoryStore())
    server, transport = make(store)
    async with server:
        client = Client(transport)
        cookie = cookie_of(await get(client, "/acount", None))
        assert (await get(client, "/acount", cookie)).text == "2"
        with caplog.at_level(logging.ERROR):
            assert (await get(client, "/count", cookie)).status == 500
        assert (await get(client, "/none", cookie)).status == 200  # unused: no error
    assert "SessionNotLoaded" in caplog.text
    assert "await request.session.load()" in caplog.text
    assert "preload=True" in caplog.text
    with pytest.raises(SessionNotLoaded, match="no load_sync"):
        Session._unloaded(_loader_of(Sessions(store, secret=SECRET))).get("x")


def _loader_of(sessions: Sessions) -> Any:
    from relays_sessions._sessions import _Pending

    return _Pending(sessions, "x" * 43, False)


async def test_preload_loads_before_the_handlers(new_store: Callable[[], SessionStore]) -> None:
    store = Counting(new_store())  # no load_sync needed: nothing loads in a handler
    server, transport = make(store, preload=True)
    async with server:
        client = Client(transport)
        cookie = cookie_of(await get(client, "/count", None))
        store.calls.clear()
        assert (await get(client, "/none", cookie)).text == "untouched"
        assert store.calls == ["load"]
        store.calls.clear()
        assert (await get(client, "/count", cookie)).text == "2"
        assert store.calls == ["load", "save"]


class FailingStore(MemoryStore):
    """A memory store whose loads fail while ``failing`` is set."""

    def __init__(self) -> None:
        super().__init__()
        self.failing = False

    def load_sync(self, session_id: str) -> Record | None:
        if self.failing:
            raise SessionStoreError("down")
        return super().load_sync(session_id)

    async def load(self, session_id: str) -> Record | None:
        if self.failing:
            raise SessionStoreError("down")
        return await super().load(session_id)


@pytest.mark.parametrize(
    ("path", "preload"), [("/count", False), ("/acount", False), ("/count", True)]
)
async def test_a_store_failure_while_loading_is_a_503(
    path: str, preload: bool, caplog: pytest.LogCaptureFixture
) -> None:
    store = FailingStore()
    server, transport = make(store, preload=preload)
    async with server:
        client = Client(transport)
        cookie = cookie_of(await get(client, path, None))
        store.failing = True
        with caplog.at_level(logging.DEBUG):
            failed = await get(client, path, cookie)
            assert failed.status == 503
            assert failed.headers.get("Retry-After") == "1"
            assert "sessions are unavailable for a moment" in failed.text
            assert cookie_of(failed) is None
            if not preload:
                assert (await get(client, "/none", cookie)).status == 200  # never loads
        store.failing = False
        assert (await get(client, path, cookie)).text == "2"  # the server goes on
    outages = [record for record in caplog.records if record.levelno >= logging.ERROR]
    assert [record.name for record in outages] == ["relays.sessions"]  # once, not a crash
    assert "session store" in outages[0].getMessage()


async def test_a_handler_may_catch_the_outage(caplog: pytest.LogCaptureFixture) -> None:
    store = FailingStore()
    server, transport = make(store)
    async with server:
        client = Client(transport)
        cookie = cookie_of(await get(client, "/count", None))
        store.failing = True
        with caplog.at_level(logging.CRITICAL, logger="relays.sessions"):
            answer = await get(client, "/guarded", cookie)
        assert (answer.status, answer.text) == (200, "no session today")
        assert cookie_of(answer) is None
    assert issubclass(SessionUnavailable, SessionStoreError)


class GatedStore(MemoryStore):
    """A memory store whose async loads wait for ``gate``."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = asyncio.Event()

    async def load(self, session_id: str) -> Record | None:
        record = await super().load(session_id)
        await self.gate.wait()
        return record


async def test_the_first_load_to_finish_wins() -> None:
    store = GatedStore()
    await store.save("a" * 43, Changes({"k": "1"}, frozenset(), 1.0, 4e9, True))
    sessions = Sessions(store, secret=SECRET)
    cookie = "session=" + Signer(SECRET).sign("a" * 43)
    request = Request("GET", "/", headers=[(b"cookie", cookie.encode())])
    sessions._on_before_request(request, None)  # type: ignore[arg-type]
    session: Session = request.session
    assert not session.loaded
    assert repr(session) == "<Session not loaded>"  # looking loads nothing
    first, second = asyncio.ensure_future(session.load()), asyncio.ensure_future(session.load())
    await asyncio.sleep(0)
    session["k"] = 2  # a sync use meanwhile loads at once, and writes
    assert session.loaded
    store.gate.set()
    assert await first is session
    assert await second is session
    assert session["k"] == 2  # the awaited loads that ended later did not overwrite it
    assert session._changes() == ({"k": "2"}, frozenset())
