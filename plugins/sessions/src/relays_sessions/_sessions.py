"""The Sessions component: a session for every request, saved before the response.

Theory of operation
-------------------
relays-http fires ``request(request, response)`` once and writes the first answer
as soon as every handler has finished; nothing runs between the last handler and
the write. To save the session (and set its cookie) *before* the response leaves,
:class:`Sessions` wraps the other handlers:

1. Its ``request`` handler runs first (priority :data:`PRIORITY`). It stops the
   event, reads the session cookie and, when the cookie's signature is valid,
   loads the session from the store. A request without a valid cookie costs no
   store access at all.
2. It puts the :class:`~relays_sessions.Session` into ``request.context`` and
   fires a second ``request`` event with the same request and response, which the
   app's handlers (a dispatcher, plain handlers) answer as usual. Our handler
   recognizes that event by the session already in the context and lets it pass.
3. When that event is done, the session's changes are saved (only the keys whose
   value changed), the cookie is set on the response that will be written, and the
   app's answer becomes ours, so relays-http sends it.

Consequences a user can see: handlers at a priority above :data:`PRIORITY` see
``request`` twice. When several handlers of the inner event answer, the first
answer wins, as without sessions. A handler's exception fails our event too (by
returning the inner event's value, so it is reported once): a 500, nothing
saved. An :class:`~relays_http.HTTPError` below 500 (a
:class:`~relays_http.Redirect` after a login) is an answer: the session is saved
and the cookie travels with it.

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
from relays_http import HTTPError, Request, RequestEvent, Response, ServiceUnavailable

from ._session import Session
from ._signing import Signer, new_session_id
from ._store import Changes, SessionStore, SessionStoreError, open_store

__all__ = ["PRIORITY", "SESSION_KEY", "NoSession", "Sessions", "session_of"]

logger = logging.getLogger("relays.sessions")

#: The priority of the :class:`Sessions` ``request`` handler: above any dispatcher.
PRIORITY = 1000
#: The ``request.context`` key that holds the request's :class:`Session`.
SESSION_KEY = "session"


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

    @handler("request", priority=PRIORITY)
    async def _on_request(self, event: Event, request: Request, response: Response) -> Any:
        if SESSION_KEY in request.context:
            return None  # the event we fired ourselves: the app's turn
        if not self._in_scope(request.path):
            return None
        event.stop()
        try:
            session, stale, resign = await self._open(request)
        except SessionStoreError as error:
            return self._unavailable(error)
        request.context[SESSION_KEY] = session
        request.session = session
        answer = self.fire(RequestEvent(request, response), *event.channels)
        try:
            await answer
        except Exception as error:
            if not isinstance(error, HTTPError) or error.code >= 500:
                # Returning the failed value makes ours fail the same way without a
                # second report: the kernel has logged or reported the error once.
                return answer
            result: Any = error  # a Redirect after a login: an answer, saved
        else:
            results = answer.results
            result = results[0] if results else None  # the first answer wins, as in relays-http
            if isinstance(result, HTTPError) and result.code >= 500:
                return result
        target = result if isinstance(result, Response) else response
        try:
            await self._finish(session, request, target, stale=stale, resign=resign)
        except SessionStoreError as error:
            return self._unavailable(error)
        return answer if answer.errors else result

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

    async def _open(self, request: Request) -> tuple[Session, bool, bool]:
        """``(session, stale, resign)``: *stale* when a cookie came but named no session."""
        value = request.cookies.get(self.cookie_name)
        if not value:
            return Session(), False, False
        verified = self._signer.unsign(value)
        if verified is None:
            return Session(), True, False
        session_id, old_key = verified
        record = await self.store.load(session_id)
        if record is None:
            return Session(), True, False
        try:
            return Session(session_id, record), False, old_key
        except ValueError as error:  # not JSON: written by something else, or damaged
            logger.warning(
                "session data in %r is not JSON, starting afresh: %s", self.store, error
            )
            return Session(), True, False

    def _expires(self, now: float, created: float) -> float:
        expires = math.inf
        if self.idle_timeout is not None:
            expires = now + self.idle_timeout
        if self.absolute_timeout is not None:
            expires = min(expires, created + self.absolute_timeout)
        return expires

    async def _finish(
        self, session: Session, request: Request, response: Response, *, stale: bool, resign: bool
    ) -> None:
        store = self.store
        now = self._clock()
        ended = session._invalidated_id
        if ended is not None:
            await store.delete(ended)
        written, deleted = session._changes()
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
        elif expires - session.expires >= self.touch_interval:
            await store.touch(session_id, expires)
            session.expires = expires
        else:
            if resign:
                self._set_cookie(request, response, session_id)
            return
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
