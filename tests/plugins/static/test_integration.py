"""Static on loopback with real clients: curl, a headless Chromium and ``relays serve``."""

from __future__ import annotations

import gzip
import hashlib
import os
import pathlib
import re
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import time
import urllib.request
import zlib
from collections.abc import Iterator
from typing import Any

import pytest

from relays import Component, handler
from relays.testing import forget_capabilities
from relays_http import Request, Response, Server
from relays_sockets import SocketConnection
from relays_static import Static, StaticLimits

pytestmark = pytest.mark.integration

CURL = shutil.which("curl")
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
needs_curl = pytest.mark.skipif(CURL is None, reason="curl is not installed")

PAGE = """<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>loading</title>
<link rel="stylesheet" href="css/site.css">
<script src="js/app.js" defer></script>
</head><body><p id="text">static</p><img id="logo" src="img/logo.png" alt="logo"></body></html>
"""
SCRIPT = """
function check() {
  var color = getComputedStyle(document.getElementById('text')).color;
  var image = document.getElementById('logo');
  var css = color === 'rgb(255, 0, 0)' ? 'css-ok' : 'css-missing';
  var img = image.complete && image.naturalWidth === 2 ? 'img-ok' : 'img-missing';
  document.title = ['js-ok', css, img].join(' ');
}
if (document.readyState === 'complete') { check(); }
else { window.addEventListener('load', check); }
"""


def png(width: int, height: int) -> bytes:
    """A valid red PNG, made with zlib: no image library needed."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    rows = b"".join(b"\x00" + b"\xff\x00\x00" * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


@pytest.fixture
def site(tmp_path: pathlib.Path) -> pathlib.Path:
    root = tmp_path / "site"
    for folder in ("css", "js", "img"):
        (root / folder).mkdir(parents=True)
    (root / "index.html").write_text(PAGE)
    (root / "css" / "site.css").write_text("#text { color: rgb(255, 0, 0) }\n")
    (root / "js" / "app.js").write_text(SCRIPT)
    (root / "img" / "logo.png").write_bytes(png(2, 2))
    text = "".join(f"line {index}\n" for index in range(2000))
    (root / "notes.txt").write_text(text)
    (root / "notes.txt.gz").write_bytes(gzip.compress(text.encode()))
    (root / "big.bin").write_bytes(os.urandom(5 * 1024 * 1024 + 17))
    return root


class Log(Component):
    """Counts the paths the server answered."""

    channel = "web"

    def __init__(self) -> None:
        super().__init__()
        self.paths: list[tuple[str, int]] = []

    @handler("response")
    def response(self, request: Request, response: Response) -> None:
        self.paths.append((request.path, response.status))


@pytest.fixture
def served(site: pathlib.Path) -> Iterator[tuple[Server, Log]]:
    log = Log()
    static = Static("/", docroot=site, cache_control={"css/*": "public, max-age=60"})
    app = Server("tcp://127.0.0.1:0") + static + log
    app.start()
    app.wait_listening()
    yield app, log
    app.stop()


def curl(*arguments: str) -> subprocess.CompletedProcess[bytes]:
    assert CURL is not None
    return subprocess.run(
        [CURL, "-sS", "--max-time", "10", *arguments], capture_output=True, check=True, timeout=20
    )


def head_fields(output: bytes) -> dict[str, str]:
    fields = {}
    for line in output.decode("latin-1").split("\r\n")[1:]:
        name, _, value = line.partition(":")
        if name:
            fields[name.strip().lower()] = value.strip()
    return fields


@needs_curl
def test_curl_ranges(served: tuple[Server, Any], site: pathlib.Path) -> None:
    server, _ = served
    data = (site / "notes.txt").read_bytes()
    assert curl("-r", "5-14", f"{server.url}notes.txt").stdout == data[5:15]
    result = curl("-i", "-r", "0-4,10-14", f"{server.url}notes.txt").stdout
    assert b"HTTP/1.1 206" in result
    assert b"multipart/byteranges" in result
    assert data[0:5] in result
    assert data[10:15] in result
    result = curl("-i", "-r", "999999-", f"{server.url}notes.txt").stdout
    assert result.startswith(b"HTTP/1.1 416")
    assert f"content-range: bytes */{len(data)}".encode() in result.lower()
    big = (site / "big.bin").read_bytes()
    tail = curl("-r", "4000000-", f"{server.url}big.bin").stdout
    assert tail == big[4000000:]


@needs_curl
def test_curl_conditional_requests(served: tuple[Server, Any], site: pathlib.Path) -> None:
    server, _ = served
    fields = head_fields(curl("-I", f"{server.url}css/site.css").stdout)
    assert fields["cache-control"] == "public, max-age=60"
    etag = fields["etag"]
    result = curl("-i", "-H", f"If-None-Match: {etag}", f"{server.url}css/site.css").stdout
    assert result.startswith(b"HTTP/1.1 304")
    # -z sends If-Modified-Since with the file's own mtime.
    result = curl("-i", "-z", str(site / "css" / "site.css"), f"{server.url}css/site.css").stdout
    assert result.startswith(b"HTTP/1.1 304")
    result = curl("-i", "-H", 'If-Match: "other"', f"{server.url}css/site.css").stdout
    assert result.startswith(b"HTTP/1.1 412")


@needs_curl
def test_curl_compressed(served: tuple[Server, Any], site: pathlib.Path) -> None:
    server, _ = served
    result = curl("-D", "-", "-o", os.devnull, "--compressed", f"{server.url}notes.txt").stdout
    fields = head_fields(result)
    assert fields["content-encoding"] == "gzip"
    assert fields["vary"] == "Accept-Encoding"
    assert (
        curl("--compressed", f"{server.url}notes.txt").stdout == (site / "notes.txt").read_bytes()
    )


@needs_curl
def test_curl_large_file(
    served: tuple[Server, Any], site: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Large files and ranges go zero-copy: through ``os.sendfile``, never read by us."""
    sent: list[int] = []
    sendfile = os.sendfile

    def counting(out: int, descriptor: int, offset: int | None, count: int) -> int:
        done = sendfile(out, descriptor, offset, count)
        sent.append(done)
        return done

    monkeypatch.setattr(os, "sendfile", counting)
    monkeypatch.setattr(os, "pread", None)  # any read into memory fails the request
    server, _ = served
    big = (site / "big.bin").read_bytes()
    body = curl(f"{server.url}big.bin").stdout
    assert hashlib.sha256(body).digest() == hashlib.sha256(big).digest()
    assert sum(sent) == len(big)
    sent.clear()
    result = curl("-i", "-r", "0-99999,4000000-4099999", f"{server.url}big.bin").stdout
    assert b"HTTP/1.1 206" in result
    assert big[:100000] in result
    assert big[4000000:4100000] in result
    assert sum(sent) == 200000


@pytest.mark.skipif(
    CHROMIUM is None, reason="chromium is not installed (apt-get install chromium)"
)
def test_chromium_loads_the_page_with_css_js_and_image(served: tuple[Server, Log]) -> None:
    server, log = served
    assert CHROMIUM is not None
    with tempfile.TemporaryDirectory() as profile:
        result = subprocess.run(
            [
                CHROMIUM,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                f"--user-data-dir={profile}",
                "--virtual-time-budget=5000",
                "--dump-dom",
                server.url or "",
            ],
            capture_output=True,
            timeout=60,
            check=False,
        )
    dom = result.stdout.decode("utf-8", "replace")
    title = re.search(r"<title>(.*?)</title>", dom)
    assert title is not None, (dom, result.stderr.decode(errors="replace")[-2000:])
    assert title.group(1) == "js-ok css-ok img-ok"
    answered = dict(log.paths)
    for path in ("/", "/css/site.css", "/js/app.js", "/img/logo.png"):
        assert answered.get(path) == 200, log.paths


RELAYS = [sys.executable, "-c", "import sys; from relays._cli import main; sys.exit(main())"]


@pytest.mark.parametrize("form", ["directory", "option"])
def test_relays_serve_a_directory(site: pathlib.Path, form: str) -> None:
    where = [str(site)] if form == "directory" else ["--static", f"/={site}"]
    process = subprocess.Popen(
        [*RELAYS, "serve", *where, "--bind", "tcp://127.0.0.1:0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        match = re.search(r"(https?://\S+/)", line)
        assert match, process.stderr.read() if process.stderr else line
        with urllib.request.urlopen(match.group(1) + "css/site.css", timeout=5) as answer:
            assert answer.read() == (site / "css" / "site.css").read_bytes()
            assert answer.headers["ETag"]
    finally:
        process.kill()
        process.wait(10)
        for stream in (process.stdout, process.stderr):
            if stream is not None:
                stream.close()


@pytest.mark.parametrize("zero_copy", [True, False], ids=["sendfile", "chunks"])
def test_a_slow_reader_holds_back_the_file_reads(
    tmp_path: pathlib.Path,
    monkeypatch: pytest.MonkeyPatch,
    request: pytest.FixtureRequest,
    zero_copy: bool,
) -> None:
    """Backpressure: while the client reads nothing, the file is not read ahead.

    With ``sendfile`` (plain TCP) the kernel takes only what the socket buffers
    hold, and nothing is read into Python; without it (a handle that lacks it)
    the chunks are read one drain at a time.
    """
    size = 32 * 1024 * 1024
    root = tmp_path / "slow"
    root.mkdir()
    (root / "huge.bin").write_bytes(os.urandom(1024 * 1024) * 32)
    read = [0]
    sent = [0]
    pread = os.pread
    sendfile = os.sendfile

    def counting_pread(descriptor: int, count: int, offset: int) -> bytes:
        data = pread(descriptor, count, offset)
        read[0] += len(data)
        return data

    def counting_sendfile(out: int, descriptor: int, offset: int | None, count: int) -> int:
        done = sendfile(out, descriptor, offset, count)
        sent[0] += done
        return done

    monkeypatch.setattr(os, "pread", counting_pread)
    monkeypatch.setattr(os, "sendfile", counting_sendfile)
    if not zero_copy:
        monkeypatch.delattr(SocketConnection, "sendfile")
        # Capabilities are remembered per class: forget them now, and again before the
        # method comes back.
        forget_capabilities()
        request.addfinalizer(forget_capabilities)
    limits = StaticLimits(chunk_size=64 * 1024)
    app = Server("tcp://127.0.0.1:0") + Static("/", docroot=root, limits=limits)
    app.start()
    try:
        app.wait_listening()
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
        sock.settimeout(10)
        sock.connect(("127.0.0.1", app.port))
        sock.sendall(b"GET /huge.bin HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        time.sleep(1.0)
        taken = sent[0] if zero_copy else read[0]
        try:
            assert 0 < taken < size // 2, taken
        finally:  # read it all, so the server can stop without cutting a sendfile short
            received = 0
            while chunk := sock.recv(1024 * 1024):
                received += len(chunk)
            sock.close()
        assert received > size
        assert (sent[0], read[0]) == ((size, 0) if zero_copy else (0, size))
    finally:
        app.stop()
