"""A site whose pages need a signed-in user: a login form kept in the session.

``SessionLogin`` (from relays-sessions) shows a form at ``/login``, gives the session a new
id when the password is right, and sends the browser back to the page it asked for;
``/logout`` ends the session. ``/public/`` stays open. An address on the command line
(``tcp://127.0.0.1:8080``) changes where it listens.
"""

import sys

from relays_http import Controller, Server, authenticated_user
from relays_sessions import SessionLogin, Sessions


class Root(Controller):
    def index(self) -> str:
        return f"Welcome back, {authenticated_user(self.request)}."

    def public(self) -> str:
        return "Anyone may read this."


if __name__ == "__main__":
    bind = sys.argv[1] if len(sys.argv) > 1 else "tcp://127.0.0.1:8000"
    sessions = Sessions(secret="replace me with secrets.token_urlsafe(32)")
    login = SessionLogin({"ann": "s3cret"}, exclude=["/public"])
    (Server(bind) + sessions + login + Root()).run()
