"""Every Python example of every README (the root one and each plugin's) runs as printed.

An example is a whole program: it builds its tree as ``app`` when imported and runs it only as
``__main__``. The test executes each one under another name, so it gets ``app`` without
blocking, moves its listening address to a free port, starts it, and uses it the way the
README says (a request, a call, an echo). Markdown has no include directive, so the README
text itself is what runs; tests/docs/test_code_blocks.py checks that no Python block of a
README escapes this file.
"""

from __future__ import annotations

import contextlib
import http.cookiejar
import io
import json
import logging
import os
import pwd
import re
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import urllib.error
import urllib.request
import xmlrpc.client
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from relays import BaseComponent, Component, handler

sys.path.insert(0, str(Path(__file__).resolve().parent / "docs"))
from docs_code_blocks import ROOT, Block, all_blocks

#: Seconds to wait for a tree to be ready, and for a client's answer.
TIMEOUT = 10
#: Where the examples listen, replaced by port 0 so that tests never collide.
ADDRESS = "tcp://127.0.0.1:8000"

EXAMPLES = [b for b in all_blocks() if b.kind == "fenced" and b.language == "python"]


class ReadyWatch(Component):
    """Added to the example's tree: remembers the address the server is listening on."""

    def __init__(self) -> None:
        super().__init__()
        self.address: tuple[str, int] | None = None
        self.ready = threading.Event()

    @handler("ready", channel="*")
    def _ready(self, server: Any, address: tuple[str, int]) -> None:
        self.address = address
        self.ready.set()


@contextlib.contextmanager
def running(block: Block, *extra: BaseComponent) -> Iterator[tuple[BaseComponent, ReadyWatch]]:
    """Execute *block* as a module (not ``__main__``), start its ``app`` with *extra*
    components added, stop it after."""
    source = block.text.replace(ADDRESS, "tcp://127.0.0.1:0")
    namespace: dict[str, Any] = {"__name__": "readme_example"}
    exec(compile(source, block.where, "exec"), namespace)
    app = namespace.get("app")
    assert isinstance(app, BaseComponent), f"{block.where}: the example names its tree `app`"
    watch = ReadyWatch()
    for component in (watch, *extra):
        app += component
    app.start()
    try:
        yield app, watch
    finally:
        app.stop()


def url(watch: ReadyWatch, path: str) -> str:
    assert watch.ready.wait(TIMEOUT), "the server never became ready"
    assert watch.address is not None
    host, port = watch.address[:2]
    return f"http://{host}:{port}{path}"


def get(watch: ReadyWatch, path: str, opener: Any = None) -> bytes:
    open_url = (opener or urllib.request.build_opener()).open
    with open_url(url(watch, path), timeout=TIMEOUT) as answer:
        return bytes(answer.read())


def check_bark(block: Block, monkeypatch: pytest.MonkeyPatch) -> None:
    output = io.StringIO()
    barked = threading.Event()

    class Listener(Component):
        def bark(self) -> None:
            barked.set()

    with (
        contextlib.redirect_stdout(output),
        contextlib.redirect_stderr(io.StringIO()),
        running(block, Listener()),
    ):
        assert barked.wait(TIMEOUT)
    # Stopping lets the event being dispatched reach all its handlers: the dog's included.
    assert "Woof! I'm Dog" in output.getvalue()


def check_hello_world(block: Block, monkeypatch: pytest.MonkeyPatch) -> None:
    with running(block) as (_, watch):
        assert get(watch, "/") == b"Hello, World!"
        assert get(watch, "/hello?name=Ada") == b'{"greeting":"Hello, Ada!"}'


def check_http_readme(block: Block, monkeypatch: pytest.MonkeyPatch) -> None:
    with running(block) as (_, watch):
        assert get(watch, "/") == b"Hello World!"
        assert get(watch, "/hello/ann") == b"Hello, ann!"
        assert get(watch, "/hello?name=ann") == b"Hello, ann!"


def check_jsonrpc(block: Block, monkeypatch: pytest.MonkeyPatch) -> None:
    with running(block) as (_, watch):
        call = {"jsonrpc": "2.0", "method": "add", "params": [2, 3], "id": 1}
        request = urllib.request.Request(
            url(watch, "/jsonrpc"),
            data=json.dumps(call).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=TIMEOUT) as answer:
            assert json.loads(answer.read()) == {"jsonrpc": "2.0", "result": 5, "id": 1}


def check_xmlrpc(block: Block, monkeypatch: pytest.MonkeyPatch) -> None:
    with running(block) as (_, watch), xmlrpc.client.ServerProxy(url(watch, "/RPC2")) as proxy:
        assert proxy.math.add(2, 3) == 5


class Collect(logging.Handler):
    """Keeps the messages of the records it is handed."""

    def __init__(self) -> None:
        super().__init__()
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def check_logging(block: Block, monkeypatch: pytest.MonkeyPatch) -> None:
    access = logging.getLogger("relays.access")
    collect = Collect()
    monkeypatch.setattr(access, "level", logging.INFO)
    access.addHandler(collect)
    try:
        with running(block) as (_, watch):
            assert get(watch, "/") == b"Hello, World!"
    finally:
        access.removeHandler(collect)
    assert any('"GET / HTTP/1.1" 200' in line for line in collect.messages), collect.messages


def check_sessions(block: Block, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SESSION_SECRET", "0123456789abcdef" * 4)
    jar = http.cookiejar.CookieJar()
    browser = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    with running(block) as (_, watch):
        assert get(watch, "/", browser) == b"visit number 1"
        assert get(watch, "/", browser) == b"visit number 2"
        assert get(watch, "/cart", browser) == b"0 items"
        assert get(watch, "/") == b"visit number 1"  # no cookie: a new session


def check_sockets(block: Block, monkeypatch: pytest.MonkeyPatch) -> None:
    with running(block) as (_, watch):
        assert watch.ready.wait(TIMEOUT)
        assert watch.address is not None
        with socket.create_connection(watch.address[:2], timeout=TIMEOUT) as client:
            client.sendall(b"echo me")
            assert client.recv(100) == b"echo me"


def check_static(block: Block, monkeypatch: pytest.MonkeyPatch) -> None:
    (Path.cwd() / "public").mkdir()
    (Path.cwd() / "public" / "hello.txt").write_text("static hello\n")
    with running(block) as (_, watch):
        assert get(watch, "/static/hello.txt") == b"static hello\n"


def check_inspector(block: Block, monkeypatch: pytest.MonkeyPatch) -> None:
    from relays_inspector import Inspector

    with running(block) as (app, watch):
        assert get(watch, "/").startswith(b"Hello!")
        [inspector] = [c for c in app.components if isinstance(c, Inspector)]
        with pytest.raises(urllib.error.HTTPError) as refused:
            get(watch, "/_relays/")
        assert refused.value.code == 403
        refused.value.close()
        browser = urllib.request.build_opener(urllib.request.HTTPCookieProcessor())
        token = inspector.token
        assert b"relays inspector" in get(watch, f"/_relays/?token={token}", browser)


def check_websocket(block: Block, monkeypatch: pytest.MonkeyPatch) -> None:
    from websockets.sync.client import connect

    with running(block) as (_, watch):
        address = url(watch, "/ws").replace("http://", "ws://")
        with connect(address, open_timeout=TIMEOUT) as client:
            client.send("hello")
            assert client.recv(TIMEOUT) == "hello"


def check_asgi(block: Block, monkeypatch: pytest.MonkeyPatch) -> None:
    with running(block) as (_, watch):
        assert get(watch, "/api/hello/ann") == b"hello ann"


def check_resources(block: Block, monkeypatch: pytest.MonkeyPatch) -> None:
    with running(block) as (_, watch):
        assert get(watch, "/world") == b"Hello, world"


def check_servlets(block: Block, monkeypatch: pytest.MonkeyPatch) -> None:
    (Path.cwd() / "site").mkdir()
    hello = ROOT / "examples" / "servlets" / "site" / "Hello.py"
    shutil.copy(hello, Path.cwd() / "site" / "Hello.py")
    with running(block) as (_, watch):
        assert b"Hello, world" in get(watch, "/Hello")


def check_io(block: Block, monkeypatch: pytest.MonkeyPatch) -> None:
    with running(block) as (_, watch):
        assert watch.ready.wait(TIMEOUT)
        assert watch.address is not None
        with socket.create_connection(watch.address[:2], timeout=TIMEOUT) as client:
            client.sendall(b"hello\nwor")
            client.sendall(b"ld\n")
            answer = b""
            while answer.count(b"\n") < 2:
                answer += client.recv(100) or b"!"  # (a closed connection ends the loop)
            assert answer == b"HELLO\nWORLD\n"


def check_app(block: Block, monkeypatch: pytest.MonkeyPatch) -> None:
    """Run as a program (it forks into the background), then asked and stopped by its pid."""
    # The daemon removes its pidfile after it stopped being root: a folder anyone may use
    # (pytest's own folders are private to root).
    shared = Path(tempfile.mkdtemp(prefix="relays-readme-"))
    try:
        shared.chmod(0o777)
        run_daemon_example(block, shared)
    finally:
        shutil.rmtree(shared, ignore_errors=True)


def run_daemon_example(block: Block, shared: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    pidfile = shared / "hello.pid"
    user = "nobody" if os.geteuid() == 0 else pwd.getpwuid(os.getuid()).pw_name
    source = (
        block.text.replace(ADDRESS, f"tcp://127.0.0.1:{port}")
        .replace("/tmp/relays-hello.pid", str(pidfile))
        .replace('"nobody"', repr(user))
    )
    (shared / "hello_daemon.py").write_text(source)
    subprocess.run([sys.executable, shared / "hello_daemon.py"], check=True, timeout=TIMEOUT)
    for _ in range(int(TIMEOUT / 0.05)):  # until it listens (bounded)
        try:
            socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT).close()
            break
        except ConnectionRefusedError:
            threading.Event().wait(0.05)
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=TIMEOUT) as answer:
        assert answer.read() == b"Hello from the background!"
    pid = int(pidfile.read_text())
    descriptor = os.pidfd_open(pid)
    try:
        os.kill(pid, signal.SIGTERM)
        assert select.select([descriptor], [], [], TIMEOUT)[0], "the daemon did not exit"
    finally:
        os.close(descriptor)
    assert not pidfile.exists()


def check_bridge(block: Block, monkeypatch: pytest.MonkeyPatch) -> None:
    """The bridge's example asks for a price through a real nats-server of its own."""
    import shutil

    program = shutil.which("nats-server")
    if program is None:
        pytest.skip("nats-server is not installed: apt-get install nats-server")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(
        [program, "-a", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        source = block.text.replace("nats://127.0.0.1:4222", f"nats://127.0.0.1:{port}")
        printed = io.StringIO()
        with contextlib.redirect_stdout(printed):
            namespace: dict[str, Any] = {"__name__": "readme_example"}
            exec(compile(source, block.where, "exec"), namespace)
            app = namespace["app"]
            app.start()
            try:
                # a request: the reply of whichever process serves "prices" (this one)
                value = app.fire(namespace["PriceAsked"]("cake"), "prices")
                assert value.get(TIMEOUT) == 4.0
            finally:
                app.stop()
    finally:
        server.terminate()
        server.wait(TIMEOUT)


#: How each README example is used, by README and rank among its Python blocks.
CHECKS: dict[tuple[str, int], Callable[[Block, pytest.MonkeyPatch], None]] = {
    ("README.md", 0): check_bark,
    ("README.md", 1): check_hello_world,
    ("plugins/app/README.md", 0): check_app,
    ("plugins/asgi/README.md", 0): check_asgi,
    ("plugins/bridge/README.md", 0): check_bridge,
    ("plugins/http/README.md", 0): check_http_readme,
    ("plugins/inspector/README.md", 0): check_inspector,
    ("plugins/io/README.md", 0): check_io,
    ("plugins/jsonrpc/README.md", 0): check_jsonrpc,
    ("plugins/logging/README.md", 0): check_logging,
    ("plugins/resources/README.md", 0): check_resources,
    ("plugins/servlets/README.md", 0): check_servlets,
    ("plugins/sessions/README.md", 0): check_sessions,
    ("plugins/sockets/README.md", 0): check_sockets,
    ("plugins/static/README.md", 0): check_static,
    ("plugins/websocket/README.md", 0): check_websocket,
    ("plugins/xmlrpc/README.md", 0): check_xmlrpc,
}


def ranked(blocks: list[Block]) -> dict[tuple[str, int], Block]:
    ranks: dict[str, int] = {}
    result = {}
    for block in blocks:
        rank = ranks.get(block.path, 0)
        ranks[block.path] = rank + 1
        result[(block.path, rank)] = block
    return result


def test_every_readme_example_has_a_check() -> None:
    assert set(ranked(EXAMPLES)) == set(CHECKS)


@pytest.mark.integration
@pytest.mark.parametrize(
    ("key", "block"), ranked(EXAMPLES).items(), ids=[b.where for b in ranked(EXAMPLES).values()]
)
def test_readme_example_runs(
    key: tuple[str, int],
    block: Block,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)  # files an example makes (a database, a docroot) stay here
    assert (ROOT / key[0]).is_file()
    CHECKS[key](block, monkeypatch)


def first_match(
    process: subprocess.Popen[str], pattern: re.Pattern[str], timeout: float
) -> re.Match[str] | None:
    """The first match of *pattern* in a line of *process*'s output, waiting at most *timeout*
    seconds for it (a process that hangs before it prints fails the test, never stalls it)."""
    found: list[re.Match[str]] = []
    done = threading.Event()

    def read() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            if not found and (match := pattern.search(line)):
                found.append(match)
                done.set()
        done.set()

    threading.Thread(target=read, daemon=True).start()
    done.wait(timeout)
    return found[0] if found else None


@pytest.mark.integration
def test_the_web_example_is_served_by_relays_serve_as_the_readme_says(tmp_path: Path) -> None:
    # "Saved as hello_app.py, it runs with ... relays serve hello_app:Root": importing the
    # module must not start the README's own server (it once did, and blocked the import).
    web = ranked(EXAMPLES)[("README.md", 1)]
    (tmp_path / "hello_app.py").write_text(web.text)
    relays = Path(sys.executable).with_name("relays")
    server = subprocess.Popen(
        [relays, "serve", "hello_app:Root", "--bind", "tcp://127.0.0.1:0"],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        # relays serve says where it listens, once it does.
        found = first_match(server, re.compile(r"serving on (http://\S+?)/? "), TIMEOUT)
        assert found, "relays serve did not say it was serving"
        address = found[1]
        with urllib.request.urlopen(f"{address}/", timeout=TIMEOUT) as answer:
            assert answer.read() == b"Hello, World!"
    finally:
        server.send_signal(signal.SIGTERM)
        server.communicate(timeout=TIMEOUT)
    assert server.returncode == 0
