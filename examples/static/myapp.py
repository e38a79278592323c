"""The static-files how-to's app: files under ``/static``, reports from a controller.

Run it as a program to serve this folder's ``public/`` at ``/static`` with the app beside::

    $ python examples/static/myapp.py tcp://127.0.0.1:8000

or let ``relays serve`` add the server and the static files (from this folder)::

    $ relays serve myapp:make_app --static /assets=./build --static /=./public
"""

import sys
from pathlib import Path

from relays import Component
from relays_http import Controller, HTTPError, Request, Response, Server
from relays_static import Static, serve_download, serve_file

HERE = Path(__file__).resolve().parent
REPORTS = HERE / "reports"


class MyApp(Component):
    """Answers what no static file does: the root channel's plain handler."""

    channel = "web"

    def request(self, request: Request, response: Response) -> str | None:
        if request.path == "/hello":
            return "hello from the app"
        return None  # not mine: a 404 unless another handler answers


class Reports(Controller):
    channel = "/reports"

    def latest(self) -> Response | HTTPError:
        return serve_file(self.request, self.response, REPORTS / "latest.txt")

    def export(self) -> Response | HTTPError:
        return serve_download(self.request, self.response, REPORTS / "export.csv", "data.csv")


def make_app() -> Component:
    """The app without a server, for ``relays serve myapp:make_app``."""
    app = MyApp()
    app += Reports()
    return app


def build(bind: str) -> Server:
    app = (
        Server(bind)
        + Static(
            "/static",
            docroot=HERE / "public",
            cache_control=[
                ("assets/*", "public, max-age=31536000, immutable"),
                ("*.html", "no-cache"),
            ],
        )
        + make_app()
    )
    return app


if __name__ == "__main__":
    build(sys.argv[1] if len(sys.argv) > 1 else "tcp://127.0.0.1:8000").run()
