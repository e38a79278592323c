"""Error pages of your own, and a debug 404 that says which parameter did not fit.

``ErrorPages`` makes the page of each error from a function of the request and the
error (``error.status``, ``error.description``); a crash gets your 500 page without
its details, which go to the log. Run with ``--debug`` as the second argument to see
why ``/add?a=x`` is a 404. An address on the command line (``tcp://127.0.0.1:8080``)
changes where it listens.
"""

import html
import sys

from relays_http import Controller, ErrorPages, HTTPError, Request, Server


def not_found(request: Request, error: HTTPError) -> str:
    return f"<h1>No page at {html.escape(request.path)}</h1><p><a href='/'>Home</a></p>"


def any_error(request: Request, error: HTTPError) -> str:
    return f"<h1>{error.status} {error.name}</h1><p>{html.escape(error.description)}</p>"


class Root(Controller):
    def index(self) -> str:
        visits = self.cookie.get("visits")  # circuits' cookie.value works too
        return f"Hello! Visits so far: {visits.value if visits else 0}"

    def add(self, a: int, b: int = 0) -> str:
        return str(a + b)

    def broken(self) -> str:
        raise RuntimeError("a detail the client must not see")


if __name__ == "__main__":
    bind = sys.argv[1] if len(sys.argv) > 1 else "tcp://127.0.0.1:8000"
    debug = "--debug" in sys.argv[2:]
    pages = ErrorPages({404: not_found}, default=any_error)
    (Server(bind, debug=debug) + pages + Root()).run()
