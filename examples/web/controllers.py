"""Controllers: pages, positional and keyword arguments, JSON and a form.

- ``/`` is ``Root.index``; ``/hello/ann`` and ``/hello?name=ann`` call
  ``hello("ann")``: path segments left after the page's name are its positional
  arguments, query and form fields its keyword arguments (annotations convert them;
  what does not fit is a 404).
- ``/add?a=1&b=2`` converts both fields to ``int``; ``/files/a/b/c`` takes any
  number of segments.
- ``/guestbook`` shows a form on ``GET`` and takes it on ``POST``: methods named
  after HTTP verbs answer that verb on the controller's own path.
- ``/api/...`` is a :class:`~relays_http.JSONController`: results and errors are JSON.

Run it and try the links::

    $ python examples/web/controllers.py
    $ curl 'http://127.0.0.1:8000/add?a=1&b=2'
    3
    $ curl -d 'name=ann&message=hi' http://127.0.0.1:8000/guestbook
"""

import html
import sys
from typing import Any

from relays_http import Controller, JSONController, NotFound, Server, expose


class Root(Controller):
    def index(self) -> str:
        return (
            '<p><a href="/hello/ann">hello</a> <a href="/add?a=1&amp;b=2">add</a> '
            '<a href="/files/a/b">files</a> <a href="/guestbook">guestbook</a> '
            '<a href="/api/status">api</a></p>'
        )

    def hello(self, name: str = "world") -> str:
        return f"Hello {html.escape(name)}!"

    def add(self, *, a: int, b: int = 0) -> str:
        return str(a + b)

    def files(self, *path: str) -> str:
        return "/".join(path) or "(the top)"

    @expose("robots.txt")
    def robots(self) -> str:
        self.response.headers["Content-Type"] = "text/plain"
        return "User-agent: *\nDisallow:\n"


class Guestbook(Controller):
    channel = "/guestbook"

    def __init__(self) -> None:
        super().__init__()
        self.entries: list[tuple[str, str]] = []

    def GET(self) -> str:
        listing = "".join(
            f"<li><b>{html.escape(name)}</b>: {html.escape(message)}</li>"
            for name, message in self.entries
        )
        return (
            f"<ul>{listing}</ul>"
            '<form method="post"><input name="name"> <input name="message"> '
            "<button>Sign</button></form>"
        )

    def POST(self, *, name: str, message: str = "") -> Any:
        self.entries.append((name, message))
        return self.redirect("/guestbook")  # 303: the browser GETs the list again


class Api(JSONController):
    channel = "/api"

    def status(self) -> dict[str, Any]:
        return {"ok": True, "path": self.request.path}

    def item(self, ident: int) -> dict[str, int]:
        if ident > 100:
            raise NotFound(f"no item {ident}")  # sent as JSON too
        return {"id": ident, "square": ident * ident}


if __name__ == "__main__":
    bind = sys.argv[1] if len(sys.argv) > 1 else "tcp://127.0.0.1:8000"
    (Server(bind) + Root() + Guestbook() + Api()).run()
