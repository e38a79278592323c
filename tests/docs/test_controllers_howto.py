"""The controllers how-to: ``examples/web/routing.py`` answers as the page says.

The page shows the example in parts (its pages, the verb methods and ``expose``, the virtual
host, the rewrite rule, the trusted proxy); each claim is asked of the real server here, over
a socket, with the method and fields the page names.
"""

from __future__ import annotations

import http.client
import json
from collections.abc import Iterator

import pytest
from docs_code_blocks import ROOT
from served import load_example

from relays_http import Controller
from relays_http.testing import serve_in_thread

pytestmark = pytest.mark.integration

EXAMPLE = ROOT / "examples" / "web" / "routing.py"
#: Seconds for a request.
WITHIN = 15


class Site:
    """The example's server on a free port, asked one request per connection."""

    def __init__(self, port: int) -> None:
        self.port = port

    def ask(
        self, method: str, target: str, fields: dict[str, str] | None = None
    ) -> tuple[int, http.client.HTTPMessage, str]:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=WITHIN)
        try:
            connection.request(method, target, headers=fields or {})
            answer = connection.getresponse()
            return answer.status, answer.headers, answer.read().decode()
        finally:
            connection.close()

    def text(self, method: str, target: str, fields: dict[str, str] | None = None) -> str:
        status, _, text = self.ask(method, target, fields)
        assert status == 200, (method, target, status, text)
        return text


@pytest.fixture(scope="module")
def site() -> Iterator[Site]:
    with serve_in_thread(load_example(EXAMPLE).build("tcp://127.0.0.1:0")) as server:
        assert server.port is not None
        yield Site(server.port)


def test_pages_and_their_arguments(site: Site) -> None:
    assert site.text("GET", "/") == "Hello World!"
    assert site.text("GET", "/hello") == "Hello world!"
    assert site.text("GET", "/hello/ann") == "Hello ann!"
    assert site.text("GET", "/hello?name=ann") == "Hello ann!"
    post = json.loads(site.text("GET", "/blog/post/2024/my-day"))
    assert post == {"year": 2024, "slug": "my-day"}
    assert site.ask("GET", "/blog/post/this-year/my-day")[0] == 404  # not an int


def test_methods_head_and_options(site: Site) -> None:
    assert site.text("GET", "/things") == "all things"
    assert site.text("GET", "/things/7") == "thing 7"
    assert site.text("POST", "/things") == "thing made"
    assert site.text("POST", "/things/archive/7") == "thing 7 archived"
    status, fields, _ = site.ask("GET", "/things/archive/7")  # POST only
    assert (status, fields["Allow"]) == (405, "OPTIONS, POST")
    status, fields, text = site.ask("GET", "/things/export.csv")
    assert (status, fields["Content-Type"], text) == (200, "text/csv", "id\r\n7\r\n")
    status, fields, text = site.ask("HEAD", "/things/7")  # the GET page, without its body
    assert (status, fields["Content-Length"], text) == (200, "7", "")
    status, fields, _ = site.ask("OPTIONS", "/things")
    assert (status, fields["Allow"]) == (204, "GET, HEAD, OPTIONS, POST")


def test_a_page_named_like_a_component_method(site: Site) -> None:
    assert site.text("GET", "/register?email=ada@example.com") == "registered ada@example.com"
    with pytest.raises(TypeError):

        class Accounts(Controller):
            def register(self, email: str) -> str:
                return email


def test_a_virtual_host(site: Site) -> None:
    post = site.text("GET", "/post/2024/my-day", {"Host": "blog.example.com"})
    assert json.loads(post) == {"year": 2024, "slug": "my-day"}


def test_the_rewrite_rule(site: Site) -> None:
    assert site.text("GET", "/old/a/b") == "new a/b"


def test_a_trusted_proxy(site: Site) -> None:
    # The test's connections come from 127.0.0.1, a proxy the example trusts.
    assert site.text("GET", "/client") == "127.0.0.1"
    assert site.text("GET", "/client", {"X-Forwarded-For": "203.0.113.5"}) == "203.0.113.5"
