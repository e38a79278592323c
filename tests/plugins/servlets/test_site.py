"""The example servlet site on loopback, driven by curl and Chromium; reloads; the 503."""

from __future__ import annotations

import concurrent.futures
import importlib.util
import os
import pathlib
import shutil
import subprocess
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from types import ModuleType

import pytest

from browser import dump_dom, needs_chromium
from relays_http import Server
from relays_http.testing import serve_in_thread
from relays_servlets import Servlets

pytestmark = pytest.mark.integration

EXAMPLES = pathlib.Path(__file__).parents[3] / "examples" / "servlets"
SITE = EXAMPLES / "site"
#: The servlets of examples/servlets/site/ these tests ask for, each by its URL.
PAGES = ("index.py", "Hello.py", "Guestbook.py", "Counter.py", "Slow.py", "Stream.py")
CURL = shutil.which("curl")
needs_curl = pytest.mark.skipif(CURL is None, reason="curl is not installed")


def load_app() -> ModuleType:
    spec = importlib.util.spec_from_file_location("servlets_example_app", EXAMPLES / "app.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def site() -> Iterator[str]:
    with serve_in_thread(load_app().build("tcp://127.0.0.1:0")) as server:
        yield server.url


def curl(*arguments: str) -> str:
    assert CURL is not None
    done = subprocess.run(
        [CURL, "-sS", "--max-time", "10", *arguments], capture_output=True, text=True, check=True
    )
    return done.stdout


def test_every_page_of_the_site_is_asked_for() -> None:
    assert sorted(path.name for path in SITE.glob("*.py")) == sorted(PAGES)


@needs_curl
def test_welcome_hello_bad_url_and_stream(site: str) -> None:
    assert 'id="welcome"' in curl(site)
    assert "<title>Welcome</title>" in curl(site + "index")
    assert "Hello, world" in curl(site + "Hello")
    assert curl("-o", "/dev/null", "-w", "%{http_code}", site + "Nothing") == "404"
    assert curl("-o", "/dev/null", "-w", "%{http_code}", site + "_private") == "404"
    assert "first;second" in curl(site + "Stream")


@needs_curl
def test_actions(site: str) -> None:
    curl("-d", "_action_=clear", site + "Guestbook")
    page = curl("-d", "name=Fred&_action_=sign", site + "Guestbook")
    assert "<li>Fred</li>" in page
    page = curl("-d", "name=Bob&_action_=writeHTML", site + "Guestbook")
    assert "<li>Bob</li>" not in page  # not listed in actions(): not callable by a form


@needs_curl
def test_session_and_invalid_session(site: str, tmp_path: pathlib.Path) -> None:
    jar = str(tmp_path / "cookies")
    assert "visits: 1<" in curl("-c", jar, "-b", jar, site + "Counter")
    assert "visits: 2<" in curl("-c", jar, "-b", jar, site + "Counter")
    # handleInvalidSession: a forged id gets a new session and the page
    assert "visits: 1<" in curl("-b", "session=forged.id", site + "Counter")


@needs_curl
def test_blocking_servlet_under_fifty_clients_leaves_other_pages_answering(site: str) -> None:
    def slow() -> str:
        return curl(site + "Slow")

    with concurrent.futures.ThreadPoolExecutor(50) as pool:
        pending = [pool.submit(slow) for _ in range(50)]
        assert "Hello, world" in curl(site + "Hello")
        still_running = sum(not each.done() for each in pending)
        assert all(each.result() == "" or "slow done" in each.result() for each in pending)
    # The fast page was answered while slow ones were still blocked in their threads.
    assert still_running > 0


def test_redirect_reload_and_overload(tmp_path: pathlib.Path) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "index.py").write_text(
        "from relays_servlets import Page\nclass index(Page):\n"
        "    def writeContent(self):\n        self.write('sub index')\n"
    )
    page = tmp_path / "Page.py"
    page.write_text(
        "from relays_servlets import Page\nclass Page(Page):\n"
        "    def writeContent(self):\n        self.write('version one')\n"
    )
    gate = threading.Event()
    entered = threading.Event()
    (tmp_path / "Block.py").write_text(
        "from relays_servlets import Page\nclass Block(Page):\n"
        "    def writeContent(self):\n"
        "        self.transaction.application().gate_entered.set()\n"
        "        self.transaction.application().gate.wait(10)\n"
        "        self.write('unblocked')\n"
    )
    servlets = Servlets({"/": tmp_path}, threads=1, queue_limit=0, extra_path_info=True)
    servlets.gate = gate  # type: ignore[attr-defined]
    servlets.gate_entered = entered  # type: ignore[attr-defined]
    with serve_in_thread(Server("tcp://127.0.0.1:0") + servlets) as server:
        url = server.url

        class NoRedirect(urllib.request.HTTPRedirectHandler):
            def redirect_request(self, *args: object, **kwargs: object) -> None:
                return None

        opener = urllib.request.build_opener(NoRedirect)
        with pytest.raises(urllib.error.HTTPError) as redirect:
            opener.open(url + "sub")
        assert redirect.value.code == 301
        assert redirect.value.headers["Location"].endswith("/sub/")
        redirect.value.close()
        with urllib.request.urlopen(url + "sub/") as answer:
            assert b"<body>\nsub index</body>" in answer.read()
        with urllib.request.urlopen(url + "Page/extra/path") as answer:
            assert b"version one" in answer.read()
        page.write_text(page.read_text().replace("version one", "version two"))
        stat = page.stat()
        os.utime(page, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
        with urllib.request.urlopen(url + "Page") as answer:
            assert b"version two" in answer.read()
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            blocked = pool.submit(lambda: urllib.request.urlopen(url + "Block").read())
            assert entered.wait(10)
            with pytest.raises(urllib.error.HTTPError) as refused:
                urllib.request.urlopen(url + "Page")
            assert refused.value.code == 503
            assert refused.value.headers["Retry-After"] == "1"
            refused.value.close()
            gate.set()
            assert b"unblocked" in blocked.result()


@needs_chromium
def test_chromium_renders_the_welcome_page(site: str, tmp_path: pathlib.Path) -> None:
    assert "Welcome to relays-servlets" in dump_dom(site, tmp_path)


async def test_a_cached_servlet_removed_or_replaced_is_found_again(
    tmp_path: pathlib.Path,
) -> None:
    """The URL cache is checked by the one stat a request makes: a servlet file
    removed since is a 404, one replaced by a directory is its redirect."""
    from relays_http.testing import Client, memory_server

    page = tmp_path / "Page.py"
    page.write_text(
        "from relays_servlets import Page\nclass Page(Page):\n"
        "    def writeContent(self):\n"
        "        self.write(self.request().field('who', 'nobody'))\n"
    )
    server, transport = memory_server(Servlets({"/": tmp_path}))
    async with server:
        client = Client(transport)
        answer = await client.get("/Page?who=query")
        assert b"query" in answer.body
        answer = await client.post(
            "/Page?x=1",
            b"who=form",
            headers={"content-type": "application/x-www-form-urlencoded"},
        )
        assert b"form" in answer.body
        page.unlink()
        assert (await client.get("/Page")).status == 404
        (tmp_path / "Page").mkdir()
        answer = await client.get("/Page")
        assert answer.status == 301
        assert answer.headers["location"] == "/Page/"
