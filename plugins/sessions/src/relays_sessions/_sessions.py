"""The Sessions component: a session for every request, loaded when first used and
saved before the response.

Theory of operation
-------------------
relays-http fires two awaited hooks around the ``request`` event while something
listens for them (:class:`~relays_http.BeforeRequestEvent`,
:class:`~relays_http.BeforeResponseEvent`), and :class:`Sessions` uses both:

1. ``before_request(request, response)`` (priority :data:`PRIORITY`): read the
   session cookie and check its signature, which needs no I/O. Without a valid
   cookie the request gets a new, empty :class:`~relays_sessions.Session`: there
   is nothing to load. With one, it gets an *unloaded* session bound to the
   cookie's id (a :class:`_Pending` loader, which the load settles). Either way
   the session goes into ``request.context`` and ``request.session``, and the
   hook stays synchronous.
2. The app's handlers answer ``request``; the session is loaded when they first
   use it. An ``async def`` handler awaits :meth:`Session.load` (the store's
   async ``load``: the loop goes on meanwhile). A sync handler cannot await: its
   first mapping operation calls the store's optional ``load_sync``, a short
   blocking call on the loop's thread, as CherryPy's sessions load in the thread
   that serves the request. It is one round trip to a store that answers in
   microseconds (memory, a local SQLite file in WAL mode) or milliseconds (Redis,
   bounded by a small socket timeout), paid only by requests that use their
   session; apps that want none pass ``preload=True``, and a store without
   ``load_sync`` raises :class:`SessionNotLoaded`, which names both ways out.
3. ``before_response(request, response, result)`` (priority ``Priority.LAST``, so
   after the other ``before_response`` handlers, which may still change the
   session): a session still unloaded was never used, and costs nothing: no
   save, no touch, no cookie. Otherwise save the session's changes (only the keys
   whose value changed) and set the cookie on the response that will be written
   (*result* when the app returned a :class:`~relays_http.Response` of its own,
   else *response*). relays-http writes the response once this handler is done.

With ``preload=True`` step 1 loads every session that has a valid cookie before
``request`` is fired (the hook then chains an async :class:`_LoadSession`), and a
session is touched even when the handlers never looked at it, as any request with
a cookie counts as use. A lazily loaded session counts as used once loaded.

A handler's exception, or an :class:`~relays_http.HTTPError` of 500 or more,
saves nothing (the client gets the error page, without a cookie). An
:class:`~relays_http.HTTPError` below 500 (a :class:`~relays_http.Redirect`
after a login) is an answer: the session is saved and the cookie travels with the
page, because relays-http keeps cookies set on *response* on 3xx and 4xx pages.
A store that fails turns the answer into a 503 (:class:`SessionUnavailable`, an
HTTP error and a :class:`~relays_sessions.SessionStoreError`): returned by the
hook when preloading or saving, which replaces the answer; raised into the
handler by a lazy load, so that the handler stops there and relays-http answers
it like any other HTTP error, without logging a crash (we log the outage once).

Expiry: a session expires ``idle_timeout`` seconds after its last use, and at the
latest ``absolute_timeout`` seconds after it was created (or regenerated). The
store gets the earlier of the two as an absolute time and forgets the session
then. A request that only reads moves the idle expiry forward, at most once per
``touch_interval`` seconds, so reading stays cheap.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Sequence
from typing import Any, Literal

from relays import BaseComponent, Event, Priority, handler
from relays_http import HTTPError, Request, Response, ServiceUnavailable

from ._session import Session
from ._signing import Signer, new_session_id
from ._store import Changes, Record, SessionStore, SessionStoreError, open_store

__all__ = [
    "PRIORITY",
    "SESSION_KEY",
    "NoSession",
    "SessionNotLoaded",
    "SessionUnavailable",
    "Sessions",
    "session_of",
]

logger = logging.getLogger("relays.sessions")

#: The priority of the :class:`Sessions` ``before_request`` handler,
#: :attr:`relays.Priority.PREPARE`: it attaches the session before the application's
#: ``before_request`` handlers run. Its ``before_response`` handler runs at
#: :attr:`relays.Priority.LAST`, after the others, and saves.
PRIORITY = Priority.PREPARE
#: The ``request.context`` key that holds the request's :class:`Session`.
SESSION_KEY = "session"
# Where the session's _State waits for the saving hook.
_STATE_KEY = "relays_sessions.state"


class _LoadSession(Event):
    """``(request, session_id, old_key)``: attach a session and load it now. Fired,
    and chained, only with ``preload=True`` and a valid cookie, so that the hook
    stays synchronous (cheaper) otherwise."""

    name = "relays_sessions.load"


class _SaveSession(Event):
    """``(session, request, response, changes, (stale, resign))``: write to the store, then
    set the cookie; chained into ``before_response`` like :class:`_LoadSession`."""

    name = "relays_sessions.save"


class NoSession(LookupError):
    """:func:`session_of` was asked for the session of a request nobody gave one."""


class SessionNotLoaded(RuntimeError):
    """A sync handler used a session that is not loaded, and the store cannot load one
    without awaiting (it has no ``load_sync``). A bug in the app: the message says
    how to fix it."""


class SessionUnavailable(ServiceUnavailable, SessionStoreError):
    """The store failed while loading or saving the session: the client gets a 503.

    Raised into the handler that first used an unloaded session (it stops there,
    and relays-http answers 503 with a ``Retry-After``); also a
    :class:`~relays_sessions.SessionStoreError`, for handlers that would rather
    catch it and answer without the session.
    """


def session_of(request: Request) -> Session:
    """The :class:`Session` of *request*, which a :class:`Sessions` component attached."""
    session = request.context.get(SESSION_KEY)
    if not isinstance(session, Session):
        raise NoSession(
            "this request has no session: register relays_sessions.Sessions(...) in the "
            "tree, on the HTTP server's channel"
        )
    return session


class Sessions(BaseComponent):
    """Give every request on *channel* a :class:`Session`, kept in *store*.

    *store* is a :class:`~relays_sessions.SessionStore` or a URL (``memory://``,
    ``sqlite:///path/sessions.db``, ``redis://host:6379/0``). *secret* signs the
    session cookie; *old_secrets* still verify (key rotation). Without a secret a
    random one is made, and every session is lost when the process stops.

    The cookie is *cookie_name* with *path*, *domain*, *httponly*, *samesite*, and
    *secure* (None: on for https requests); *max_age* makes it persistent (sliding:
    renewed whenever the session is saved or touched), None keeps it until the
    browser closes. *idle_timeout* and *absolute_timeout* (seconds; either may be
    None, not both) bound how long a session lives on the server.

    Requests outside the cookie's *path* (the browser would not send the cookie
    there) and under a prefix of *exclude* (``("/static/",)``) get no session and
    cost nothing: :func:`session_of` raises :class:`NoSession` for them.

    A session is loaded from the store when a handler first uses it (``await
    request.session.load()`` in an async handler; the first mapping operation in a
    sync one, through the store's ``load_sync``). *preload* loads it before the
    handlers run instead, for every request with a valid cookie: no handler then
    ever waits for the store, but every such request reads it.
    """

    channel = "web"

    def __init__(
        self,
        store: SessionStore | str = "memory://",
        *,
        secret: str | bytes | None = None,
        old_secrets: Sequence[str | bytes] = (),
        cookie_name: str = "session",
        path: str = "/",
        domain: str | None = None,
        secure: bool | None = None,
        httponly: bool = True,
        samesite: Literal["Strict", "Lax", "None"] | None = "Lax",
        max_age: int | None = None,
        idle_timeout: float | None = 30 * 60.0,
        absolute_timeout: float | None = 12 * 3600.0,
        touch_interval: float | None = None,
        exclude: Sequence[str] = (),
        preload: bool = False,
        channel: Any = "web",
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(channel=channel)
        if idle_timeout is None and absolute_timeout is None:
            raise ValueError("sessions must expire: set idle_timeout, absolute_timeout or both")
        for name, timeout in (
            ("idle_timeout", idle_timeout),
            ("absolute_timeout", absolute_timeout),
        ):
            if timeout is not None and not timeout > 0:
                raise ValueError(f"{name} must be a positive number of seconds, not {timeout!r}")
        if samesite == "None" and secure is False:
            raise ValueError("SameSite=None cookies must be Secure: leave secure at None or True")
        if secret is None:
            import secrets

            logger.warning(
                "no session secret configured: using a random one, so sessions end when "
                "this process stops and are not shared between processes"
            )
            secret = secrets.token_urlsafe(32)
        #: The store sessions are kept in.
        self.store: SessionStore = open_store(store) if isinstance(store, str) else store
        self._signer = Signer(secret, old_secrets)
        self.cookie_name = cookie_name
        self.path = path
        self.domain = domain
        self.secure = secure
        self.httponly = httponly
        self.samesite = samesite
        self.max_age = max_age
        self.idle_timeout = idle_timeout
        self.absolute_timeout = absolute_timeout
        if touch_interval is None:
            touch_interval = min(60.0, idle_timeout / 10) if idle_timeout else math.inf
        #: Least expiry gain, in seconds, worth a store write for a session only read.
        self.touch_interval = touch_interval
        #: Path prefixes whose requests get no session.
        self.exclude = tuple(exclude)
        #: Load sessions before the handlers run rather than on first use.
        self.preload = preload
        self._clock = clock
        # Check the cookie settings now rather than on the first response.
        Response().set_cookie(
            cookie_name, "x", path=path, domain=domain, samesite=samesite, max_age=max_age
        )

    # -- handlers --------------------------------------------------------------------

    @handler("before_request", priority=PRIORITY)
    def _on_before_request(self, request: Request, response: Response) -> Any:
        if not self._in_scope(request.path):
            return None
        value = request.cookies.get(self.cookie_name)
        verified = self._signer.unsign(value) if value else None
        if verified is None:  # a new session: nothing to load
            self._attach(request, Session(), _State(stale=bool(value)))
            return None
        if self.preload:  # relays-http waits for the chained value before ``request``
            return self.fire(_LoadSession(request, *verified))
        pending = _Pending(self, *verified)
        self._attach(request, Session._unloaded(pending), pending)
        return None

    @handler(_LoadSession.name)
    async def _on_load(self, request: Request, session_id: str, old_key: bool) -> Any:
        pending = _Pending(self, session_id, old_key)
        session = Session._unloaded(pending)
        self._attach(request, session, pending)
        try:
            await session.load()
        except SessionUnavailable as error:
            return error  # answers instead of the handlers
        return None

    def _attach(self, request: Request, session: Session, state: _State) -> None:
        context = request.context
        context[SESSION_KEY] = session
        context[_STATE_KEY] = state
        request.session = session

    @handler("before_response", priority=Priority.LAST)
    def _on_before_response(self, request: Request, response: Response, result: Any) -> Any:
        state: _State | None = request.context.pop(_STATE_KEY, None)
        if state is None:
            return None  # out of scope
        if isinstance(result, BaseException) and (
            not isinstance(result, HTTPError) or result.code >= 500
        ):
            return None  # a failed handler, or a 5xx: nothing is saved
        session: Session = request.context[SESSION_KEY]
        if not session.loaded:
            return None  # never used (or its load failed): nothing to save, touch or sign
        target = result if isinstance(result, Response) else response
        stale, resign = state.stale, state.resign
        changes = session._changes()
        if self._finish_without_store(session, request, target, changes, stale, resign):
            return None
        return self.fire(_SaveSession(session, request, target, changes, (stale, resign)))

    @handler(_SaveSession.name)
    async def _on_save(
        self,
        session: Session,
        request: Request,
        response: Response,
        changes: tuple[dict[str, str], frozenset[str]],
        state: tuple[bool, bool],
    ) -> Any:
        try:
            await self._finish(session, request, response, changes, *state)
        except SessionStoreError as error:
            return self._unavailable(error)
        return None

    @handler("stopped", channel="*")
    async def _on_stopped(self, component: BaseComponent) -> None:
        if component is self.root:
            await self.store.close()

    def _in_scope(self, path: str) -> bool:
        """Whether a request for *path* gets a session: inside the cookie path (RFC 6265
        5.1.4 path-match) and under no excluded prefix."""
        cookie_path = self.path
        if path != cookie_path and cookie_path != "/":
            if not path.startswith(cookie_path):
                return False
            if not cookie_path.endswith("/") and path[len(cookie_path)] != "/":
                return False
        return not (self.exclude and path.startswith(self.exclude))

    # -- loading and saving ----------------------------------------------------------

    def _expires(self, now: float, created: float) -> float:
        expires = math.inf
        if self.idle_timeout is not None:
            expires = now + self.idle_timeout
        if self.absolute_timeout is not None:
            expires = min(expires, created + self.absolute_timeout)
        return expires

    def _finish_without_store(
        self,
        session: Session,
        request: Request,
        response: Response,
        changes: tuple[dict[str, str], frozenset[str]],
        stale: bool,
        resign: bool,
    ) -> bool:
        """Finish a session that needs no store access (nothing written, no touch due);
        False when :meth:`_finish` must run."""
        if session._invalidated_id is not None or session._regenerate:
            return False
        written, deleted = changes
        if session.is_new:
            if written:
                return False
            if stale:
                response.delete_cookie(self.cookie_name, path=self.path, domain=self.domain)
            return True
        if written or deleted:
            return False
        assert session.created is not None
        assert session.expires is not None
        expires = self._expires(self._clock(), session.created)
        if expires - session.expires >= self.touch_interval:
            return False
        if resign:
            assert session.id is not None
            self._set_cookie(request, response, session.id)
        return True

    async def _finish(
        self,
        session: Session,
        request: Request,
        response: Response,
        changes: tuple[dict[str, str], frozenset[str]],
        stale: bool,
        resign: bool,
    ) -> None:
        store = self.store
        now = self._clock()
        ended = session._invalidated_id
        if ended is not None:
            await store.delete(ended)
        written, deleted = changes
        if session.is_new or session._regenerate:
            if session.is_new and not written:
                if stale or ended is not None:
                    response.delete_cookie(self.cookie_name, path=self.path, domain=self.domain)
                return
            everything = session._encoded()
            old_id = session._replaced_id if session._regenerate else None
            new_id = session.id if session._regenerate else new_session_id()
            assert new_id is not None
            expires = self._expires(now, now)
            await store.save(new_id, Changes(everything, frozenset(), now, expires, True))
            if old_id is not None:
                await store.delete(old_id)
            session._saved(new_id, now, expires)
            self._set_cookie(request, response, new_id)
            return
        session_id = session.id
        created = session.created
        assert session_id is not None
        assert created is not None
        assert session.expires is not None
        expires = self._expires(now, created)
        if written or deleted:
            await store.save(session_id, Changes(written, deleted, created, expires, False))
            session._saved(session_id, created, expires)
        else:
            await store.touch(session_id, expires)
            session._expires = expires
        if resign or self.max_age is not None:
            self._set_cookie(request, response, session_id)

    def _set_cookie(self, request: Request, response: Response, session_id: str) -> None:
        secure = self.secure if self.secure is not None else request.scheme == "https"
        response.set_cookie(
            self.cookie_name,
            self._signer.sign(session_id),
            path=self.path,
            domain=self.domain,
            max_age=self.max_age,
            secure=secure or self.samesite == "None",
            httponly=self.httponly,
            samesite=self.samesite,
        )

    def _unavailable(self, error: SessionStoreError) -> SessionUnavailable:
        logger.error("session store %r failed: %s", self.store, error)
        return SessionUnavailable("sessions are unavailable for a moment; retry", retry_after=1)


class _State:
    """What the saving hook needs to know of how the session was found: *stale* (the
    cookie names nothing usable: delete it if nothing is stored), *resign* (it was
    signed with an old secret: sign it again)."""

    __slots__ = ("resign", "stale")

    def __init__(self, *, stale: bool = False, resign: bool = False) -> None:
        self.stale = stale
        self.resign = resign


class _Pending(_State):
    """The loader of one request's unloaded session, bound to the cookie's id; also
    its :class:`_State`, settled by the load. It holds neither the request nor the
    session, so an unused session makes no reference cycle."""

    __slots__ = ("old_key", "session_id", "sessions")

    def __init__(self, sessions: Sessions, session_id: str, old_key: bool) -> None:
        super().__init__()
        self.sessions = sessions
        self.session_id = session_id
        self.old_key = old_key

    def _settle(self, session: Session, record: Record | None) -> None:
        """Make the unloaded *session* what the store gave (*record*), or a fresh one."""
        if record is not None:
            try:
                session._fill(self.session_id, record)
            except ValueError as error:  # not JSON: written by something else, or damaged
                logger.warning(
                    "session data in %r is not JSON, starting afresh: %s",
                    self.sessions.store,
                    error,
                )
            else:
                self.resign = self.old_key
                return
        session._start_afresh()
        self.stale = True

    def load_sync(self, session: Session) -> None:
        sessions = self.sessions
        store = sessions.store
        load_sync: Callable[[str], Record | None] | None = getattr(store, "load_sync", None)
        if load_sync is None:
            raise SessionNotLoaded(
                f"this session is not loaded, and its store {store!r} cannot load it "
                "without awaiting (it has no load_sync method): in an async handler, "
                "`await request.session.load()` before using the session, or make "
                "Sessions(..., preload=True) load it before the handlers run"
            )
        try:
            record = load_sync(self.session_id)
        except SessionStoreError as error:
            raise sessions._unavailable(error) from error
        self._settle(session, record)

    async def load(self, session: Session) -> None:
        sessions = self.sessions
        try:
            record = await sessions.store.load(self.session_id)
        except SessionStoreError as error:
            raise sessions._unavailable(error) from error
        if not session.loaded:  # else a sync use loaded it while we waited: that one wins
            self._settle(session, record)
