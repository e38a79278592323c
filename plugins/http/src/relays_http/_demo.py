"""The site ``relays demo`` serves: a page, a form and a JSON endpoint.

Written the way circuits.web taught: controllers whose methods are pages,
registered under a :class:`~relays_http.Server` (whose dispatcher serves them).
``/`` and ``/greet`` are pages of :class:`Root`; ``/api/info`` is a page of
:class:`Api`, a JSON controller mounted at ``/api``.
"""

from __future__ import annotations

import html
import time
from typing import Any

from ._controllers import Controller, JSONController, expose

__all__ = ["Api", "Root", "make_demo"]

_PAGE = """<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>{title}</title></head>
<body>
<h1>{title}</h1>
{content}
<p><a href="/">Home</a> &middot; <a href="/api/info">JSON</a></p>
</body></html>
"""

_FORM = """<p>This page is served by relays-http.</p>
<form method="post" action="/greet">
  <label>Your name <input name="name" autofocus></label>
  <button>Greet me</button>
</form>
"""


class Root(Controller):
    """The home page, and the form's target."""

    def index(self) -> str:
        return _PAGE.format(title="relays demo", content=_FORM)

    @expose(methods=["POST"])
    def greet(self, name: str = "") -> str:
        """``POST /greet`` with a ``name`` field (a GET is answered 405)."""
        greeting = f"<p>Hello, {html.escape(name.strip() or 'stranger')}!</p>"
        return _PAGE.format(title="Greetings", content=greeting)


class Api(JSONController):
    """``GET /api/info``: a JSON document."""

    channel = "/api"

    def __init__(self) -> None:
        super().__init__()
        self.started = time.time()
        self.served = 0

    @expose(methods=["GET"])
    def info(self) -> dict[str, Any]:
        self.served += 1
        remote = self.request.remote
        return {
            "server": "relays",
            "uptime": round(time.time() - self.started, 3),
            "served": self.served,
            "you": {
                "address": remote[0] if isinstance(remote, tuple) else None,
                "agent": self.request.headers.get("user-agent"),
            },
        }


def make_demo() -> Root:
    """The demo's controllers, ready to go under a :class:`~relays_http.Server`."""
    return Root() + Api()
