"""The sessions how-to: its examples answer as the page says, and its transcript runs.

``examples/sessions/visits.py`` (the visit counter with login and logout, the secret's
rotation, the ``/static/`` exclusion) and ``examples/sessions/cart.py`` (a controller) are
served in a thread and asked by a client that keeps cookies, as a browser does. The page's
``relays serve ... --workers 4`` transcript is run as shown, with its ``export`` line, from a
copy of the example's folder (so that the SQLite file is made there).
"""

from __future__ import annotations

import http.cookiejar
import re
import shutil
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from docs_code_blocks import ROOT, blocks_of
from served import load_example, masked, serve_as_shown

from relays import Component
from relays_http import Request, Response, Server
from relays_http.testing import serve_in_thread
from relays_sessions import Sessions

pytestmark = pytest.mark.integration

PAGE = ROOT / "docs" / "howto" / "sessions.rst"
FOLDER = ROOT / "examples" / "sessions"
SECRET = "a secret of at least sixteen bytes"
#: Seconds for a request.
WITHIN = 15


class Browser:
    """A client that keeps cookies and follows redirects, as a browser does."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.cookies = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.cookies))

    def get(self, path: str) -> str:
        with self.opener.open(self.url + path.lstrip("/"), timeout=WITHIN) as answer:
            return str(answer.read().decode())

    def cookie(self) -> str:
        (cookie,) = [c.value for c in self.cookies if c.value]
        return str(cookie)


@pytest.fixture
def visits(monkeypatch: pytest.MonkeyPatch) -> Iterator[Browser]:
    monkeypatch.setenv("SESSION_SECRET", SECRET)
    with serve_in_thread(
        load_example(FOLDER / "visits.py").build("tcp://127.0.0.1:0", "memory://")
    ) as server:
        assert server.url is not None
        yield Browser(server.url)


def test_visits_login_and_logout(visits: Browser) -> None:
    assert visits.get("/") == "hello stranger, visit 1"
    assert visits.get("/") == "hello stranger, visit 2"
    before = visits.cookie()
    assert visits.get("/login") == "hello ada, visit 3"  # redirected to /, data kept
    assert visits.cookie() != before  # regenerated: a new id at login
    assert visits.get("/logout") == "hello stranger, visit 1"  # a fresh session


def test_the_secret_rotated(tmp_path: Path) -> None:
    visits = load_example(FOLDER / "visits.py")
    store = f"sqlite:///{tmp_path / 'sessions.db'}"
    old = Server("tcp://127.0.0.1:0") + Sessions(store, secret="the old secret, 16+ bytes")
    with serve_in_thread(old + visits.App()) as server:
        assert server.url is not None
        browser = Browser(server.url)
        assert browser.get("/") == "hello stranger, visit 1"
        signed_with_old = browser.cookie()
    rotated = visits.rotated(store, "the new secret, 16+ bytes", "the old secret, 16+ bytes")
    with serve_in_thread(Server("tcp://127.0.0.1:0") + rotated + visits.App()) as server:
        assert server.url is not None
        browser.url = server.url
        assert browser.get("/") == "hello stranger, visit 2"  # the old cookie still verifies
        assert browser.cookie() != signed_with_old  # and is signed again with the new secret
    fresh = Server("tcp://127.0.0.1:0") + Sessions(store, secret="the new secret, 16+ bytes")
    with serve_in_thread(fresh + visits.App()) as server:
        assert server.url is not None
        browser.url = server.url
        assert browser.get("/") == "hello stranger, visit 3"  # the new signature alone


class Files(Component):
    """Says whether a request has a session at all."""

    channel = "web"

    def request(self, request: Request, response: Response) -> str:
        return "no session" if "session" not in request.context else "a session"


def test_no_session_under_static() -> None:
    sessions = load_example(FOLDER / "visits.py").static_excluded("memory://", SECRET)
    with serve_in_thread(Server("tcp://127.0.0.1:0") + sessions + Files()) as server:
        assert server.url is not None
        browser = Browser(server.url)
        assert browser.get("/static/app.js") == "no session"
        assert browser.get("/page") == "a session"


def test_the_controller_sync_and_async() -> None:
    root = load_example(FOLDER / "cart.py").Root()
    sessions = Sessions("memory://", secret=SECRET)
    with serve_in_thread(Server("tcp://127.0.0.1:0") + sessions + root) as server:
        assert server.url is not None
        browser = Browser(server.url)
        assert browser.get("/health") == "ok"
        assert list(browser.cookies) == []  # never looked at the session: no cookie
        assert browser.get("/") == "visit 1"
        assert browser.get("/") == "visit 2"
        assert browser.get("/cart") == "0 items"


def test_the_transcript_with_workers(tmp_path: Path) -> None:
    (block,) = [b for b in blocks_of(PAGE) if b.language == "console"]
    export, serve = block.commands()
    found = re.fullmatch(r"export (\w+)=\$\(python -c '([^']*)'\)", export)
    assert found, export
    secret = subprocess.run(
        [sys.executable, "-c", found[2]], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert len(secret) >= 16
    shutil.copy(FOLDER / "visits.py", tmp_path)
    with serve_as_shown(serve, tmp_path, env={found[1]: secret}) as served:
        assert masked(served.line) == masked(block.output_of(serve))
        browser = Browser(served.url)
        # Whichever worker answers, the session is in the shared SQLite file.
        assert [browser.get("/") for _ in range(4)] == [
            f"hello stranger, visit {n}" for n in range(1, 5)
        ]
