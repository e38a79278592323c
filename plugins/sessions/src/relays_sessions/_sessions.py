"""The Sessions component: a session for every request, saved before the response.

Theory of operation
-------------------
relays-http fires two awaited hooks around the ``request`` event while something
listens for them (:class:`~relays_http.BeforeRequestEvent`,
:class:`~relays_http.BeforeResponseEvent`), and :class:`Sessions` uses both:

1. ``before_request(request, response)`` (priority :data:`PRIORITY`): read the
   session cookie and, when its signature is valid, load the session from the
   store. A request without a valid cookie costs no store access at all. The
   :class:`~relays_sessions.Session` goes into ``request.context`` and
   ``request.session``. relays-http fires ``request`` only once this (async)
   handler is done, so the app's handlers always find the session loaded.
2. The app's handlers answer ``request`` as usual: the one event, seen once by
   every handler whatever its priority.
3. ``before_response(request, response, result)`` (priority ``-PRIORITY``, so
   after the other ``before_response`` handlers, which may still change the
   session): save the session's changes (only the keys whose value changed) and
   set the cookie on the response that will be written (*result* when the app
   returned a :class:`~relays_http.Response` of its own, else *response*).
   relays-http writes the response once this handler is done.

A handler's exception, or an :class:`~relays_http.HTTPError` of 500 or more,
saves nothing (the client gets the error page, without a cookie). An
:class:`~relays_http.HTTPError` below 500 (a :class:`~relays_http.Redirect`
after a login) is an answer: the session is saved and the cookie travels with the
page, because relays-http keeps cookies set on *response* on 3xx and 4xx pages.
A store that fails while loading or saving turns the answer into a 503 (the hook
returns it, which replaces the answer).

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

from relays import BaseComponent, Event, handler
from relays_http import HTTPError, Request, Response, ServiceUnavailable

from ._session import Session
from ._signing import Signer, new_session_id
from ._store import Changes, SessionStore, SessionStoreError, open_store

__all__ = ["PRIORITY", "SESSION_KEY", "NoSession", "Sessions", "session_of"]

logger = logging.getLogger("relays.sessions")

#: The priority of the :class:`Sessions` ``before_request`` handler (it loads the
#: session before other ``before_request`` handlers run); its ``before_response``
#: handler runs at ``-PRIORITY``, after the others, and saves.
PRIORITY = 1000
#: The ``request.context`` key that holds the request's :class:`Session`.
SESSION_KEY = "session"
# Where the loading hook leaves (stale, resign) for the saving one.
_STATE_KEY = "relays_sessions.state"


class _LoadSession(Event):
    """``(request, session_id, old_key)``: load a session from the store, then attach
    it. Fired, and chained, only when a store access is needed, so that the hooks
    stay synchronous (cheaper) otherwise."""

    name = "relays_sessions.load"


class _SaveSession(Event):
    """``(session, request, response, changes, (stale, resign))``: write to the store, then
    set the cookie; chained into ``before_response`` like :class:`_LoadSession`."""

    name = "relays_sessions.save"


class NoSession(LookupError):
    """:func:`session_of` was asked for the session of a request nobody gave one."""


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
        if verified is None:  # no store access: stay synchronous (a cheaper event)
            self._attach(request, Session(), stale=bool(value), resign=False)
            return None
        # relays-http waits for the chained value before firing ``request``.
        return self.fire(_LoadSession(request, *verified))

    @handler(_LoadSession.name)
    async def _on_load(self, request: Request, session_id: str, old_key: bool) -> Any:
        try:
            record = await self.store.load(session_id)
        except SessionStoreError as error:
            return self._unavailable(error)  # answers instead of the handlers
        session = None
        if record is not None:
            try:
                session = Session(session_id, record)
            except ValueError as error:  # not JSON: written by something else, or damaged
                logger.warning(
                    "session data in %r is not JSON, starting afresh: %s", self.store, error
                )
        if session is None:
            self._attach(request, Session(), stale=True, resign=False)
        else:
            self._attach(request, session, stale=False, resign=old_key)
        return None

    def _attach(self, request: Request, session: Session, *, stale: bool, resign: bool) -> None:
        context = request.context
        context[SESSION_KEY] = session
        context[_STATE_KEY] = (stale, resign)
        request.session = session

    @handler("before_response", priority=-PRIORITY)
    def _on_before_response(self, request: Request, response: Response, result: Any) -> Any:
        state = request.context.pop(_STATE_KEY, None)
        if state is None:
            return None  # out of scope, or our own 503
        if isinstance(result, BaseException) and (
            not isinstance(result, HTTPError) or result.code >= 500
        ):
            return None  # a failed handler, or a 5xx: nothing is saved
        session = request.context[SESSION_KEY]
        target = result if isinstance(result, Response) else response
        stale, resign = state
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
            old_id = session.id
            new_id = new_session_id()
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
            session.expires = expires
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

    def _unavailable(self, error: SessionStoreError) -> ServiceUnavailable:
        logger.error("session store %r failed: %s", self.store, error)
        return ServiceUnavailable("sessions are unavailable for a moment; retry", retry_after=1)
