"""Form login on top of sessions: CherryPy's ``session_auth``, for relays-http.

Theory of operation
-------------------
:class:`SessionLogin` handles ``before_request`` at :data:`relays_http.AUTH_PRIORITY`,
after :class:`~relays_sessions.Sessions` has attached the request's session:

* ``GET`` *login_path* shows the login form; ``POST`` checks the user name and
  password. Right: the session gets a new id (:meth:`Session.regenerate
  <relays_sessions.Session.regenerate>`, so an id planted before the login is
  worthless: session fixation), the user's name goes into it, and the browser is
  sent on to the page it came for (``next``, a local path only: never an open
  redirect). Wrong: the form again, with a message, after the same work as a right
  one (the check runs in any case).
* *logout_path* ends the session and sends the browser to the form.
* Any other request under *paths*: with a signed-in user, that user is the
  request's :func:`~relays_http.authenticated_user`; without, a ``GET`` is
  redirected to the form (with ``next``), anything else refused with a 403.

relays-http knows nothing of sessions, so this lives here, where both are known.
"""

from __future__ import annotations

import hmac
import html
from collections.abc import Callable, Mapping, Sequence
from typing import Any
from urllib.parse import quote

from relays import BaseComponent, handler
from relays_http import AUTH_PRIORITY, USER_KEY, Forbidden, Redirect, Request, Response

from ._sessions import session_of

__all__ = ["SessionLogin", "login_form"]

_DUMMY = "relays-sessions: no such user"


def login_form(request: Request, next_path: str, message: str | None) -> str:
    """The default login page: a plain form posting ``username``, ``password`` and
    ``next``; *message* says why the last attempt failed."""
    notice = f"<p role='alert'>{html.escape(message)}</p>" if message else ""
    return (
        "<!DOCTYPE html><html><head><meta charset='utf-8'><title>Sign in</title></head>"
        f"<body><h1>Sign in</h1>{notice}<form method='post' action='{html.escape(request.path)}'>"
        f"<input type='hidden' name='next' value='{html.escape(next_path)}'>"
        "<label>User <input name='username' autocomplete='username'></label> "
        "<label>Password <input name='password' type='password' "
        "autocomplete='current-password'></label> "
        "<button>Sign in</button></form></body></html>"
    )


def _local(path: str | None) -> str:
    """*path* if it is a path on this site, else ``/`` (no open redirect)."""
    if not path or not path.startswith("/") or path.startswith(("//", "/\\")):
        return "/"
    if any(character in path for character in "\r\n\\"):
        return "/"
    return path


class SessionLogin(BaseComponent):
    """Sign users in with a form and keep them signed in with their session.

    *users* checks a user name and password: a ``{user: password}`` mapping (compared
    in constant time) or a callable ``(user, password) -> bool`` (an
    :class:`~relays_http.Htpasswd`, say). *paths* are protected, except *exclude*
    and the login and logout paths; *session_key* is where the user's name is kept
    in the session; *form* makes the login page (default :func:`login_form`).
    Needs :class:`~relays_sessions.Sessions` on the same channel.
    """

    channel = "web"

    def __init__(
        self,
        users: Mapping[str, str] | Callable[[str, str], bool],
        *,
        login_path: str = "/login",
        logout_path: str = "/logout",
        paths: Sequence[str] = ("/",),
        exclude: Sequence[str] = (),
        session_key: str = "user",
        form: Callable[[Request, str, str | None], Any] = login_form,
        channel: Any = "web",
    ) -> None:
        super().__init__(channel=channel)
        if callable(users):
            self._check = users
        else:
            table = dict(users)

            def check(user: str, password: str) -> bool:
                expected = table.get(user)
                same = hmac.compare_digest(
                    password.encode(), (expected if expected is not None else _DUMMY).encode()
                )
                return same and expected is not None

            self._check = check
        self.login_path = login_path
        self.logout_path = logout_path
        self.paths = tuple(paths)
        self.exclude = tuple(exclude)
        self.session_key = session_key
        self.form = form

    @handler("before_request", priority=AUTH_PRIORITY)
    async def _on_before_request(self, request: Request, response: Response) -> Any:
        path = request.path
        if path == self.login_path:
            return await self._login(request)
        if path == self.logout_path:
            session = await session_of(request).load()
            session.invalidate()
            return Redirect(self.login_path)
        if not path.startswith(self.paths) or (self.exclude and path.startswith(self.exclude)):
            return None
        session = await session_of(request).load()
        user = session.get(self.session_key)
        if user:
            request.context[USER_KEY] = user
            return None
        if request.method in ("GET", "HEAD"):
            return Redirect(f"{self.login_path}?next={quote(request.target, safe='/')}")
        return Forbidden("sign in first")

    async def _login(self, request: Request) -> Any:
        if request.method != "POST":
            return self.form(request, _local(request.query.get("next")), None)
        form = await request.form()
        user = form.get("username") or ""
        password = form.get("password") or ""
        next_path = _local(form.get("next"))
        if self._check(user, password) and user:
            session = await session_of(request).load()
            session.regenerate()
            session[self.session_key] = user
            return Redirect(next_path)
        return self.form(request, next_path, "wrong user name or password")
