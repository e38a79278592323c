"""How paths find pages: the controllers how-to's site, in one program.

``Root`` is mounted at ``/``, ``Blog`` at ``/blog`` and ``Things`` at ``/things``;
``blog.example.com`` is served from ``/blog``, ``/old/...`` is rewritten to ``/new/...``,
and a reverse proxy on loopback may say who the client is::

    $ python examples/web/routing.py
    $ curl http://127.0.0.1:8000/blog/post/2024/my-day
    {"year":2024,"slug":"my-day"}
    $ curl -H 'Host: blog.example.com' http://127.0.0.1:8000/post/2024/my-day
    {"year":2024,"slug":"my-day"}

An address on the command line (``tcp://127.0.0.1:8080``) changes where it listens.
"""

import sys
from typing import Any

from relays import Component, Priority, handler
from relays_http import (
    Controller,
    Request,
    Response,
    Server,
    TrustedProxies,
    VirtualHosts,
    expose,
)


class Root(Controller):  # channel "/": mounted at the root
    def index(self) -> str:  # GET /
        return "Hello World!"

    def hello(self, name: str = "world") -> str:  # /hello, /hello/ann, /hello?name=ann
        return f"Hello {name}!"

    def new(self, *path: str) -> str:  # /new/..., where Legacy sends /old/...
        return "new " + "/".join(path)

    def client(self) -> str:  # who the client is, behind a trusted proxy too
        return str(self.request.remote[0])

    @expose("register")  # a page named like a method of the component API
    def register_page(self, email: str) -> str:
        return f"registered {email}"


class Blog(Controller):
    channel = "/blog"  # mounted at /blog

    def post(self, year: int, slug: str) -> dict[str, Any]:  # /blog/post/2024/my-day
        return {"year": year, "slug": slug}


class Things(Controller):
    channel = "/things"

    def GET(self, ident: int | None = None) -> str:  # GET /things, GET /things/7
        return "all things" if ident is None else f"thing {ident}"

    def POST(self) -> str:  # POST /things
        return "thing made"

    @expose(methods=["POST"])
    def archive(self, ident: int) -> str:  # POST /things/archive/7 only
        return f"thing {ident} archived"

    @expose("export.csv")
    def export(self) -> str:  # /things/export.csv
        self.response.headers["Content-Type"] = "text/csv"
        return "id\r\n7\r\n"


class Legacy(Component):
    channel = "web"

    @handler("request", priority=Priority.ROUTE)
    def moved(self, request: Request, response: Response) -> None:
        if request.path.startswith("/old/"):
            request.rewrite(path="/new/" + request.raw_path[5:])


def build(bind: str) -> Server:
    server = Server(bind) + Root() + Blog() + Things() + Legacy()
    server += VirtualHosts({"blog.example.com": "/blog"})
    server += TrustedProxies(["127.0.0.1", "10.0.0.0/8"])
    return server


if __name__ == "__main__":
    build(sys.argv[1] if len(sys.argv) > 1 else "tcp://127.0.0.1:8000").run()
