"""The sessions how-to's app: a visit counter that knows who logged in.

Sessions live in a SQLite file and are signed with ``$SESSION_SECRET``::

    $ SESSION_SECRET=... python examples/sessions/visits.py tcp://127.0.0.1:8000 sqlite://sessions.db

or let ``relays serve`` add the server and the ``Sessions`` component (from this folder)::

    $ relays serve visits:App --session-store sqlite://sessions.db
"""

import os
import sys

from relays import Component
from relays_http import Redirect, Request, Response, Server
from relays_sessions import Sessions, session_of


class App(Component):
    channel = "web"

    def request(self, request: Request, response: Response) -> str:
        session = session_of(request)
        if request.path == "/login":
            session["user"] = "ada"
            session.regenerate()  # a new id at login: against session fixation
            raise Redirect("/")
        if request.path == "/logout":
            session.invalidate()
            raise Redirect("/")
        session["visits"] = session.get("visits", 0) + 1
        return f"hello {session.get('user', 'stranger')}, visit {session['visits']}"


def build(bind: str, store: str) -> Server:
    app = Server(bind) + Sessions(store, secret=os.environ["SESSION_SECRET"]) + App()
    return app


def rotated(store: str, new_secret: str, old_secret: str) -> Sessions:
    # Cookies signed with the old secret still verify, and are signed with the new one.
    return Sessions(store, secret=new_secret, old_secrets=[old_secret])


def static_excluded(store: str, secret: str) -> Sessions:
    # No session under /static/: files need none, and cost no store access.
    return Sessions(store, secret=secret, exclude=("/static/",))


if __name__ == "__main__":
    bind = sys.argv[1] if len(sys.argv) > 1 else "tcp://127.0.0.1:8000"
    build(bind, sys.argv[2] if len(sys.argv) > 2 else "sqlite:///var/lib/myapp/sessions.db").run()
