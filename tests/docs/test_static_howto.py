"""The static-files how-to: its two ``relays serve`` transcripts and its example's code.

The commands are run as the page shows them, from ``examples/static/`` (on a free port), and
their serving lines compared with the page's; then each answers what the page says it
serves. ``examples/static/myapp.py``'s ``build()`` and ``Reports`` are served in a thread
and asked over a socket.
"""

from __future__ import annotations

import urllib.error
import urllib.request
from collections.abc import Iterator
from email.message import Message

import pytest
from docs_code_blocks import ROOT, Block, blocks_of
from served import load_example, masked, serve_as_shown

from relays_http.testing import serve_in_thread

pytestmark = pytest.mark.integration

PAGE = ROOT / "docs" / "howto" / "static-files.rst"
FOLDER = ROOT / "examples" / "static"
#: Seconds for a request.
WITHIN = 15


def transcript(start: str) -> Block:
    (block,) = [b for b in blocks_of(PAGE) if b.text.startswith(f"$ {start}")]
    return block


def fetch(url: str) -> tuple[int, Message, bytes]:
    """Status, header fields and body of *url* (errors included)."""
    try:
        with urllib.request.urlopen(url, timeout=WITHIN) as answer:
            return answer.status, answer.headers, answer.read()
    except urllib.error.HTTPError as error:
        with error:
            return error.code, error.headers, error.read()


def test_a_directory_and_nothing_else() -> None:
    block = transcript("relays serve ./public")
    with serve_as_shown(block.commands()[0], FOLDER) as served:
        assert masked(served.line) == masked(block.output_of(block.commands()[0]))
        assert fetch(served.url)[0] == 200
        assert fetch(served.url)[2] == (FOLDER / "public" / "index.html").read_bytes()
        assert (
            fetch(served.url + "assets/app.js")[2]
            == (FOLDER / "public/assets/app.js").read_bytes()
        )
        assert fetch(served.url + "hello")[0] == 404  # no app: files only


def test_an_app_and_its_assets() -> None:
    block = transcript("relays serve myapp:make_app")
    with serve_as_shown(block.commands()[0], FOLDER) as served:
        assert masked(served.line) == masked(block.output_of(block.commands()[0]))
        assert fetch(served.url + "assets/app.js")[2] == (FOLDER / "build" / "app.js").read_bytes()
        assert fetch(served.url)[2] == (FOLDER / "public" / "index.html").read_bytes()
        assert fetch(served.url + "hello")[2] == b"hello from the app"
        assert (
            fetch(served.url + "reports/latest")[2] == (FOLDER / "reports/latest.txt").read_bytes()
        )


@pytest.fixture
def url() -> Iterator[str]:
    """The URL of ``build()``'s server, served in a thread."""
    with serve_in_thread(load_example(FOLDER / "myapp.py").build("tcp://127.0.0.1:0")) as server:
        assert server.url is not None
        yield server.url


def test_static_files_with_their_cache_control(url: str) -> None:
    status, fields, body = fetch(url + "static/index.html")
    assert (status, fields["Cache-Control"]) == (200, "no-cache")
    assert body == (FOLDER / "public" / "index.html").read_bytes()
    status, fields, _ = fetch(url + "static/assets/app.js")
    assert (status, fields["Cache-Control"]) == (200, "public, max-age=31536000, immutable")


def test_the_rest_goes_on_to_the_app(url: str) -> None:
    assert fetch(url + "static/missing.html")[0] == 404
    status, _, body = fetch(url + "hello")
    assert (status, body) == (200, b"hello from the app")


def test_a_file_from_a_controller(url: str) -> None:
    status, fields, body = fetch(url + "reports/latest")
    assert (status, body) == (200, (FOLDER / "reports" / "latest.txt").read_bytes())
    assert fields["ETag"]
    assert fields["Last-Modified"]
    status, fields, body = fetch(url + "reports/export")
    assert (status, body) == (200, (FOLDER / "reports" / "export.csv").read_bytes())
    assert fields["Content-Disposition"] == 'attachment; filename="data.csv"'
