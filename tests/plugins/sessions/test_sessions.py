"""The Sessions component behind relays-http, over the in-memory transport."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from relays import Component, handler
from relays.testing import MemoryClient, MemoryTransport
from relays_http import (
    BaseServer,
    Controller,
    Dispatcher,
    Redirect,
    Request,
    Response,
    expose,
)
from relays_sessions import (
    Changes,
    MemoryStore,
    NoSession,
    Record,
    Sessions,
    SessionStore,
    SessionStoreError,
    session_of,
)

SECRET = "test-secret-0123456789abcdef"


def parse(data: bytes) -> tuple[int, list[tuple[str, str]], bytes] | None:
    """One response with a Content-Length, or None while it is incomplete."""
    head, separator, rest = data.partition(b"\r\n\r\n")
    if not separator:
        return None
    lines = head.decode("latin-1").split("\r\n")
    fields = [
        (name.strip().lower(), value.strip())
        for name, _, value in (line.partition(":") for line in lines[1:])
    ]
    length = int(dict(fields).get("content-length", "0"))
    if len(rest) < length:
        return None
    return int(lines[0].split(" ")[1]), fields, rest[:length]


class Browser:
    """Sends requests on one in-memory connection and keeps cookies, as a browser would."""

    def __init__(self, transport: MemoryTransport) -> None:
        self.transport = transport
        self.client: MemoryClient = transport.connect()
        self.cookies: dict[str, str] = {}
        self.set_cookies: list[str] = []

    async def get(self, path: str, *, cookie: str | None = None) -> tuple[int, bytes]:
        header = (
            cookie
            if cookie is not None
            else "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        )
        extra = f"Cookie: {header}\r\n" if header else ""
        self.client.send(f"GET {path} HTTP/1.1\r\nHost: test\r\n{extra}\r\n".encode())
        await self.client.wait(lambda received: parse(received) is not None)
        status, fields, body = parse(self.client.take())  # type: ignore[misc]
        self.set_cookies = [value for name, value in fields if name == "set-cookie"]
        for value in self.set_cookies:
            pair, *attributes = value.split("; ")
            name, _, cookie_value = pair.partition("=")
            if "Max-Age=0" in attributes:
                self.cookies.pop(name, None)
            else:
                self.cookies[name] = cookie_value
        return status, body


class App(Component):
    channel = "web"

    def request(self, request: Request, response: Response) -> Any:
        session = session_of(request)
        assert request.session is session  # circuits.web's spelling works too
        path = request.path
        if path.startswith("/app/"):  # the tests of the cookie's Path
            path = path[4:]
        if path == "/count":
            session["count"] = session.get("count", 0) + 1
            return str(session["count"])
        if path == "/read":
            return repr(sorted(session.items()))
        if path == "/set":
            for name, value in request.query.items():
                session[name] = value
            return "ok"
        if path == "/append":
            session.setdefault("items", [])
            session["items"].append(request.query.get("item"))
            return "ok"
        if path == "/login":
            session["user"] = "ada"
            session.regenerate()
            raise Redirect("/read")
        if path == "/logout":
            session.invalidate()
            return "bye"
        if path == "/clear":
            session.clear()
            return "cleared"
        if path == "/boom":
            session["lost"] = True
            raise RuntimeError("boom")
        if path == "/own":
            session["own"] = 1
            return Response("mine", 201)
        if path == "/id":
            return str(session.id)
        if path == "/regenerate-id":
            old = session.id
            session.regenerate()
            return f"{old} {session.id}"
        if path == "/regenerate-then-logout":
            session.regenerate()
            session.invalidate()
            return "bye"
        return None


def make(store: Any = None, **options: Any) -> tuple[BaseServer, MemoryTransport, Sessions]:
    transport = MemoryTransport(channel="web")
    server = BaseServer(transport=transport)
    sessions = Sessions(store if store is not None else MemoryStore(), secret=SECRET, **options)
    server += sessions
    server += App()
    return server, transport, sessions


async def test_a_session_is_made_on_first_write_and_kept() -> None:
    server, transport, _ = make()
    async with server:
        browser = Browser(transport)
        assert await browser.get("/read") == (200, b"[]")
        assert browser.set_cookies == []  # nothing stored, no cookie
        assert await browser.get("/count") == (200, b"1")
        [cookie] = browser.set_cookies
        assert cookie.startswith("session=")
        assert "; Path=/" in cookie
        assert "; HttpOnly" in cookie
        assert "; SameSite=Lax" in cookie
        assert "Secure" not in cookie  # plain http
        assert "Max-Age" not in cookie
        assert await browser.get("/count") == (200, b"2")
        assert browser.set_cookies == []  # same id: no new cookie
        assert await browser.get("/count") == (200, b"3")


async def test_cookie_options_are_honoured() -> None:
    server, transport, _ = make(
        cookie_name="sid",
        path="/app",
        domain="example.com",
        secure=True,
        samesite="Strict",
        max_age=600,
        httponly=False,
    )
    async with server:
        browser = Browser(transport)
        await browser.get("/app/count")
        [cookie] = browser.set_cookies
        assert cookie.startswith("sid=")
        for part in (
            "Path=/app",
            "Domain=example.com",
            "Max-Age=600",
            "Secure",
            "SameSite=Strict",
        ):
            assert part in cookie.split("; ")
        assert "HttpOnly" not in cookie
        await browser.get("/app/read")
        assert len(browser.set_cookies) == 0  # within the touch interval: nothing moved
        await browser.get("/app/count")
        assert len(browser.set_cookies) == 1  # saved: a persistent cookie slides


async def test_sessions_are_separate_per_client() -> None:
    server, transport, _ = make()
    async with server:
        one, other = Browser(transport), Browser(transport)
        await one.get("/count")
        await one.get("/count")
        assert await other.get("/count") == (200, b"1")
        assert await one.get("/count") == (200, b"3")


@pytest.mark.parametrize(
    "cookie",
    [
        "session=garbage",
        "session=" + "A" * 43 + "." + "B" * 43,
        "session=" + "x" * 5000,
        "session=",
        'session="\\u0000"',
        "session=a.b.c",
    ],
)
async def test_bad_cookies_start_a_fresh_session(cookie: str) -> None:
    server, transport, _ = make()
    async with server:
        browser = Browser(transport)
        assert await browser.get("/read", cookie=cookie) == (200, b"[]")
        assert await browser.get("/count", cookie=cookie) == (200, b"1")
        assert browser.set_cookies[0].startswith("session=")
        assert await browser.get("/count") == (200, b"2")


async def test_a_stale_cookie_is_deleted_when_nothing_is_stored() -> None:
    server, transport, _ = make()
    async with server:
        browser = Browser(transport)
        await browser.get("/read", cookie="session=garbage")
        [cookie] = browser.set_cookies
        assert cookie.startswith("session=;")
        assert "Max-Age=0" in cookie


async def test_a_tampered_cookie_never_reads_another_session() -> None:
    server, transport, _ = make()
    async with server:
        victim = Browser(transport)
        await victim.get("/set?secret=yes")
        session_id = victim.cookies["session"].partition(".")[0]
        attacker = Browser(transport)
        assert await attacker.get("/read", cookie=f"session={session_id}.forged") == (200, b"[]")
        assert await attacker.get("/read", cookie=f"session={session_id}") == (200, b"[]")


async def test_idle_and_absolute_expiry() -> None:
    now = [1_000_000.0]
    store = MemoryStore(clock=lambda: now[0])
    server, transport, _ = make(
        store, idle_timeout=100, absolute_timeout=250, clock=lambda: now[0]
    )
    async with server:
        browser = Browser(transport)
        await browser.get("/count")
        now[0] += 90
        assert await browser.get("/count") == (200, b"2")  # used: idle expiry moves on
        now[0] += 90
        assert await browser.get("/read") == (200, b"[('count', 2)]")  # read: touched
        now[0] += 90
        assert await browser.get("/read") == (200, b"[]")  # 270 s old: past the absolute limit
        await browser.get("/count")
        now[0] += 101
        assert await browser.get("/count") == (200, b"1")  # idle too long


async def test_a_session_only_read_is_touched_at_most_once_per_interval() -> None:
    now = [1_000_000.0]
    store = MemoryStore(clock=lambda: now[0])
    server, transport, sessions = make(store, idle_timeout=100, clock=lambda: now[0])
    assert sessions.touch_interval == 10
    touched = []
    original = store.touch

    async def touch(session_id: str, expires: float) -> None:
        touched.append(expires)
        await original(session_id, expires)

    store.touch = touch  # type: ignore[method-assign]
    async with server:
        browser = Browser(transport)
        await browser.get("/count")
        for _ in range(5):
            now[0] += 3
            await browser.get("/read")
        assert touched == [now[0] - 3 + 100]


async def test_regenerate_changes_the_id_and_keeps_the_data() -> None:
    store = MemoryStore()
    server, transport, _ = make(store)
    async with server:
        browser = Browser(transport)
        await browser.get("/set?theme=dark")
        before = browser.cookies["session"]
        status, _ = await browser.get("/login")
        assert status == 303
        after = browser.cookies["session"]
        assert after != before
        assert len(store) == 1  # the old id is gone from the store
        assert await browser.get("/read") == (200, b"[('theme', 'dark'), ('user', 'ada')]")
        assert await browser.get("/read", cookie=f"session={before}") == (200, b"[]")


async def test_the_id_is_the_new_one_right_after_regenerate() -> None:
    store = MemoryStore()
    server, transport, sessions = make(store)
    async with server:
        browser = Browser(transport)
        await browser.get("/set?theme=dark")
        _, body = await browser.get("/regenerate-id")
        old, new = body.decode().split()
        assert old != new
        # The cookie names the id the handler saw, and only it is stored.
        assert sessions._signer.unsign(browser.cookies["session"]) == (new, False)
        assert await browser.get("/id") == (200, new.encode())
        assert len(store) == 1


async def test_regenerate_then_invalidate_ends_the_old_id() -> None:
    store = MemoryStore()
    server, transport, _ = make(store)
    async with server:
        browser = Browser(transport)
        await browser.get("/count")
        assert await browser.get("/regenerate-then-logout") == (200, b"bye")
        assert len(store) == 0
        assert "session" not in browser.cookies


async def test_invalidate_deletes_the_session_and_the_cookie() -> None:
    store = MemoryStore()
    server, transport, _ = make(store)
    async with server:
        browser = Browser(transport)
        await browser.get("/count")
        old = browser.cookies["session"]
        assert await browser.get("/logout") == (200, b"bye")
        assert "Max-Age=0" in browser.set_cookies[0]
        assert "session" not in browser.cookies
        assert len(store) == 0
        assert await browser.get("/read", cookie=f"session={old}") == (200, b"[]")


async def test_clear_keeps_the_id_and_empties_the_data() -> None:
    server, transport, _ = make()
    async with server:
        browser = Browser(transport)
        await browser.get("/set?a=1&b=2")
        first_id = (await browser.get("/id"))[1]
        await browser.get("/clear")
        assert await browser.get("/read") == (200, b"[]")
        assert (await browser.get("/id"))[1] == first_id


async def test_in_place_changes_are_saved() -> None:
    server, transport, _ = make()
    async with server:
        browser = Browser(transport)
        await browser.get("/append?item=a")
        await browser.get("/append?item=b")
        assert await browser.get("/read") == (200, b"[('items', ['a', 'b'])]")


async def test_a_failed_handler_saves_nothing(caplog: pytest.LogCaptureFixture) -> None:
    server, transport, _ = make()
    async with server:
        browser = Browser(transport)
        await browser.get("/count")
        with caplog.at_level(logging.CRITICAL):
            status, _ = await browser.get("/boom")
        assert status == 500
        assert browser.set_cookies == []
        assert await browser.get("/read") == (200, b"[('count', 1)]")


async def test_a_response_of_the_handlers_own_gets_the_cookie() -> None:
    server, transport, _ = make()
    async with server:
        browser = Browser(transport)
        assert await browser.get("/own") == (201, b"mine")
        assert browser.set_cookies[0].startswith("session=")
        assert await browser.get("/read") == (200, b"[('own', 1)]")


async def test_nobody_answering_is_still_a_404() -> None:
    server, transport, _ = make()
    async with server:
        assert (await Browser(transport).get("/nowhere"))[0] == 404


async def test_concurrent_requests_keep_writes_to_different_keys(
    new_store: Callable[[], SessionStore],
) -> None:
    store = new_store()
    release = asyncio.Event()

    class Slow(Component):
        channel = "web"

        async def request(self, request: Request, response: Response) -> Any:
            if request.path != "/slow":
                return None
            session = session_of(request)
            session[request.query["key"]] = "done"
            await release.wait()
            return "slow"

    transport = MemoryTransport(channel="web")
    server = BaseServer(transport=transport) + Sessions(store, secret=SECRET) + Slow() + App()
    async with server:
        browser = Browser(transport)
        await browser.get("/set?start=1")
        cookie = "session=" + browser.cookies["session"]
        one, other = Browser(transport), Browser(transport)
        first = asyncio.ensure_future(one.get("/slow?key=a", cookie=cookie))
        second = asyncio.ensure_future(other.get("/slow?key=b", cookie=cookie))
        await asyncio.sleep(0.05)
        release.set()
        assert await first == (200, b"slow")
        assert await second == (200, b"slow")
        assert await browser.get("/read") == (
            200,
            b"[('a', 'done'), ('b', 'done'), ('start', '1')]",
        )


async def test_sessions_work_with_the_dispatcher() -> None:
    class Root(Controller):
        @expose
        def index(self) -> str:
            session = session_of(self.request)
            session["hits"] = session.get("hits", 0) + 1
            return f"hits={session['hits']}"

        @expose
        async def later(self) -> str:
            await asyncio.sleep(0)
            session = session_of(self.request)
            session["later"] = True
            return "later"

    transport = MemoryTransport(channel="web")
    server = BaseServer(transport=transport) + Sessions(secret=SECRET) + Dispatcher() + Root()
    async with server:
        browser = Browser(transport)
        assert await browser.get("/") == (200, b"hits=1")
        assert await browser.get("/later") == (200, b"later")
        assert await browser.get("/") == (200, b"hits=2")


class FailingStore(MemoryStore):
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

    async def save(self, session_id: str, changes: Changes) -> None:
        if self.failing:
            raise SessionStoreError("down")
        await super().save(session_id, changes)


async def test_a_store_outage_is_a_503(caplog: pytest.LogCaptureFixture) -> None:
    store = FailingStore()
    server, transport, _ = make(store)
    async with server:
        browser = Browser(transport)
        await browser.get("/count")
        store.failing = True
        with caplog.at_level(logging.CRITICAL, logger="relays.sessions"):
            assert (await browser.get("/count"))[0] == 503
            assert (await browser.get("/count", cookie=""))[0] == 503
        store.failing = False
        assert await browser.get("/count") == (200, b"2")


def test_session_of_a_request_without_sessions_says_what_to_do() -> None:
    with pytest.raises(NoSession, match=r"register relays_sessions\.Sessions"):
        session_of(Request("GET", "/"))


def test_bad_settings_are_refused() -> None:
    with pytest.raises(ValueError, match="must expire"):
        Sessions(secret=SECRET, idle_timeout=None, absolute_timeout=None)
    with pytest.raises(ValueError, match="positive"):
        Sessions(secret=SECRET, idle_timeout=0)
    with pytest.raises(ValueError, match="Secure"):
        Sessions(secret=SECRET, samesite="None", secure=False)
    with pytest.raises(ValueError, match="cookie name"):
        Sessions(secret=SECRET, cookie_name="bad name")
    with pytest.raises(ValueError, match="16 bytes"):
        Sessions(secret="short")


def test_no_secret_makes_a_random_one_and_warns(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="relays.sessions"):
        Sessions()
    assert "no session secret" in caplog.text


def test_session_values_must_be_json() -> None:
    from relays_sessions import Session

    session = Session()
    session["fine"] = {"a": [1, 2.5, None, True]}
    with pytest.raises(TypeError, match=r"session\['bad'\] must be JSON-serializable"):
        session["bad"] = {1, 2}
    with pytest.raises(TypeError, match="must be JSON"):
        session["nan"] = float("nan")
    with pytest.raises(TypeError, match="keys are str"):
        session[1] = "x"  # type: ignore[index]
    assert session.is_new
    assert session.id is None
    assert "fine" in repr(session)


# Anything a client can put in a header field value: visible ASCII, space, tab, obs-text.
FIELD_TEXT = st.characters(codec="latin-1", exclude_categories=("Cc",)) | st.sampled_from("\t")


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    value=st.one_of(
        st.text(alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7E), max_size=300),
        st.text(alphabet=FIELD_TEXT, max_size=100),
        st.text(alphabet="ABCxyz019-_.", min_size=80, max_size=100),
    )
)
def test_any_cookie_value_gives_a_fresh_session(value: str) -> None:
    async def scenario() -> None:
        server, transport, _ = make()
        async with server:
            browser = Browser(transport)
            header = f"session={value}"
            status, body = await browser.get("/count", cookie=header)
            assert (status, body) == (200, b"1")
            assert browser.set_cookies
            assert browser.set_cookies[-1].startswith("session=")

    from relays import new_event_loop

    loop = new_event_loop()
    try:
        loop.run_until_complete(asyncio.wait_for(scenario(), 10))
    finally:
        loop.close()


async def test_a_cookie_signed_with_an_old_secret_is_signed_again() -> None:
    store = MemoryStore()
    server, transport, _ = make(store)
    async with server:
        browser = Browser(transport)
        await browser.get("/count")
        old_cookie = browser.cookies["session"]
    rotated = Sessions(store, secret="the-new-secret-0123456789", old_secrets=[SECRET])
    transport = MemoryTransport(channel="web")
    server = BaseServer(transport=transport) + rotated + App()
    async with server:
        browser = Browser(transport)
        browser.cookies["session"] = old_cookie
        assert await browser.get("/read") == (200, b"[('count', 1)]")
        [cookie] = browser.set_cookies
        assert browser.cookies["session"] != old_cookie
        assert browser.cookies["session"].partition(".")[0] == old_cookie.partition(".")[0]
        assert "HttpOnly" in cookie
        assert await browser.get("/count") == (200, b"2")
        assert browser.set_cookies == []


def test_the_secure_flag_follows_https_by_default() -> None:
    sessions = Sessions(secret=SECRET)
    request = Request("GET", "/", scheme="https")
    response = Response()
    sessions._set_cookie(request, response, "x" * 43)
    assert response.cookies["session"].secure
    sessions._set_cookie(Request("GET", "/"), response, "x" * 43)
    assert not response.cookies["session"].secure


@pytest.mark.parametrize(
    ("path", "exclude", "scoped"),
    [
        ("/", (), {"/": True, "/count": True, "/static/a.css": True}),
        ("/app", (), {"/app": True, "/app/x": True, "/apple": False, "/": False}),
        ("/app/", (), {"/app/": True, "/app/x": True, "/app": False}),
        ("/", ("/static/",), {"/count": True, "/static/a.css": False, "/static": True}),
    ],
)
def test_only_requests_in_scope_get_a_session(
    path: str, exclude: tuple[str, ...], scoped: dict[str, bool]
) -> None:
    sessions = Sessions(secret=SECRET, path=path, exclude=exclude)
    assert {request: sessions._in_scope(request) for request in scoped} == scoped


async def test_an_excluded_path_has_no_session(caplog: pytest.LogCaptureFixture) -> None:
    server, transport, _ = make(exclude=("/count",))
    async with server:
        browser = Browser(transport)
        assert (await browser.get("/read"))[0] == 200
        with caplog.at_level(logging.ERROR, logger="relays.http"):
            assert (await browser.get("/count"))[0] == 500
    assert "this request has no session" in caplog.text


async def test_a_failing_handler_is_logged_once(caplog: pytest.LogCaptureFixture) -> None:
    server, transport, _ = make()
    async with server:
        with caplog.at_level(logging.ERROR):
            assert (await Browser(transport).get("/boom"))[0] == 500
    failures = [record for record in caplog.records if "boom" in record.getMessage()]
    assert len(failures) == 1


async def test_the_first_answer_wins_as_without_sessions() -> None:
    class Second(Component):
        channel = "web"

        def request(self, request: Request, response: Response) -> Any:
            return "second" if request.path == "/two" else None

    class First(Component):
        channel = "web"

        @handler("request", priority=5)
        def _first(self, request: Request, response: Response) -> Any:
            return "first" if request.path == "/two" else None

    transport = MemoryTransport(channel="web")
    server = BaseServer(transport=transport) + Sessions(secret=SECRET) + Second() + First()
    async with server:
        assert await Browser(transport).get("/two") == (200, b"first")


async def test_damaged_session_data_starts_a_fresh_session(
    caplog: pytest.LogCaptureFixture,
) -> None:
    store = MemoryStore()
    server, transport, _ = make(store)
    async with server:
        browser = Browser(transport)
        await browser.get("/count")
        [entry] = store._entries.values()
        entry.data["count"] = "{not json"
        with caplog.at_level(logging.WARNING, logger="relays.sessions"):
            assert await browser.get("/count") == (200, b"1")
    assert "not JSON" in caplog.text


async def test_an_unknown_id_is_never_adopted() -> None:
    # Session fixation: a validly signed id the store does not know (an attacker's
    # choice, or an expired one) is replaced by a new random id, never taken over.
    from relays_sessions import Signer

    planted = "p" * 43
    server, transport, _ = make()
    async with server:
        browser = Browser(transport)
        browser.cookies["session"] = Signer(SECRET).sign(planted)
        assert await browser.get("/count") == (200, b"1")
        session_id = browser.cookies["session"].partition(".")[0]
        assert session_id != planted
        assert (await browser.get("/id"))[1].decode() == session_id
