"""The site ``relays demo`` serves: a page, a form and a JSON endpoint.

Written in the plainest style relays-http offers: components whose ``request``
handler looks at the path and answers or returns ``None`` ("not mine"), so the
next one gets a chance and a request nobody answers is a 404.
"""

from __future__ import annotations

import html
import time
from typing import Any

from relays import Component

from ._errors import MethodNotAllowed
from ._request import Request
from ._response import Response

__all__ = ["Greeter", "Info", "Pages", "make_demo"]

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


class Pages(Component):
    """The home page."""

    channel = "web"

    def request(self, request: Request, response: Response) -> str | None:
        if request.path != "/":
            return None
        return _PAGE.format(title="relays demo", content=_FORM)


class Greeter(Component):
    """The form's target: ``POST /greet`` with a ``name`` field."""

    channel = "web"

    async def request(self, request: Request, response: Response) -> str | None:
        if request.path != "/greet":
            return None
        if request.method != "POST":
            raise MethodNotAllowed(["POST"])
        form = await request.form()
        name = (form.get("name") or "").strip() or "stranger"
        greeting = f"<p>Hello, {html.escape(name)}!</p>"
        return _PAGE.format(title="Greetings", content=greeting)


class Info(Component):
    """``GET /api/info``: a JSON document."""

    channel = "web"

    def __init__(self) -> None:
        super().__init__()
        self.started = time.time()
        self.served = 0

    def request(self, request: Request, response: Response) -> dict[str, Any] | None:
        if request.path != "/api/info":
            return None
        self.served += 1
        return {
            "server": "relays",
            "uptime": round(time.time() - self.started, 3),
            "served": self.served,
            "you": {
                "address": request.remote[0] if isinstance(request.remote, tuple) else None,
                "agent": request.headers.get("user-agent"),
            },
        }


def make_demo() -> Component:
    """The demo's components, ready to go under a :class:`~relays_http.Server`."""
    root = Pages()
    root += Greeter()
    root += Info()
    return root
