"""Pages that answer 304 Not Modified: validators, automatic ETags and caching headers.

``ConditionalGet`` compares the page's ``ETag``/``Last-Modified`` with the request's
``If-None-Match``/``If-Modified-Since`` (and ``If-Match``/``If-Unmodified-Since``)
after the page ran; ``autotags=True`` gives every page without an ``ETag`` one made
from its body. ``/article`` updates only when the client read the current version
(``POST`` with ``If-Match``). An address on the command line (``tcp://127.0.0.1:8080``)
changes where it listens.
"""

import sys

from relays_http import (
    ConditionalGet,
    Controller,
    Server,
    cache_control,
    check_preconditions,
    expires,
    http_date,
)

STARTED = 1_700_000_000.0


class Article(Controller):
    """``/article``: GET it, then POST a new text with the ``If-Match`` it got."""

    channel = "/article"
    version = 1
    text = "First version."

    def GET(self) -> str:
        self.response.headers["ETag"] = f'"{self.version}"'
        self.response.headers["Last-Modified"] = http_date(STARTED + self.version)
        cache_control(self.response, no_cache=True)  # cache it, but always revalidate
        return self.text

    def POST(self, text: str = "") -> str:
        check_preconditions(self.request, etag=f'"{self.version}"')  # before acting
        Article.version += 1
        Article.text = text
        return "saved"


class Root(Controller):
    def index(self) -> str:
        return "<p>This page gets an ETag made from its body.</p>"

    def logo(self) -> bytes:
        expires(self.response, 24 * 3600)  # fresh for a day: no request at all meanwhile
        self.response.content_type = "image/svg+xml"
        return b'<svg xmlns="http://www.w3.org/2000/svg"/>'


if __name__ == "__main__":
    bind = sys.argv[1] if len(sys.argv) > 1 else "tcp://127.0.0.1:8000"
    (Server(bind) + ConditionalGet(autotags=True) + Root() + Article()).run()
