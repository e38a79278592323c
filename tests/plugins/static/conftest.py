"""Fixtures of the relays-static tests: a docroot with known files and an in-memory client."""

from __future__ import annotations

import os
import pathlib
from collections.abc import Callable

import pytest

from relays import BaseComponent
from relays.testing import MemoryTransport
from relays_http import BaseServer

#: The big file's size: above the default small_file_size, so it is streamed.
BIG_SIZE = 300_000


def parse_response(data: bytes, *, head: bool = False) -> tuple[int, dict[str, str], bytes] | None:
    """``(status, headers, body)`` of one complete response in *data*, else None."""
    head, found, rest = data.partition(b"\r\n\r\n")
    if not found:
        return None
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ")[1])
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    if head or status in (204, 304):
        return status, headers, rest
    if "content-length" in headers:
        size = int(headers["content-length"])
        if len(rest) < size:
            return None
        return status, headers, rest[:size]
    if headers.get("transfer-encoding") == "chunked":
        body = b""
        while True:
            size_line, found, rest = rest.partition(b"\r\n")
            if not found:
                return None
            size = int(size_line, 16)
            if size == 0:
                return status, headers, body
            if len(rest) < size + 2:
                return None
            body += rest[:size]
            rest = rest[size + 2 :]
    return status, headers, rest


class Client:
    """Sends one request at a time over a MemoryTransport connection."""

    def __init__(self, transport: MemoryTransport) -> None:
        self.transport = transport

    async def __call__(
        self, path: str, method: str = "GET", **headers: str
    ) -> tuple[int, dict[str, str], bytes]:
        fields = "".join(
            f"{name.replace('_', '-')}: {value}\r\n" for name, value in headers.items()
        )
        client = self.transport.connect()
        client.send(
            f"{method} {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n{fields}\r\n".encode()
        )
        received = await client.wait(lambda data: False, timeout=10)
        parsed = parse_response(received, head=method == "HEAD")
        assert parsed is not None, received[:500]
        return parsed


@pytest.fixture
def docroot(tmp_path: pathlib.Path) -> pathlib.Path:
    """A small site: pages, assets, a big file, hidden files, variants, a symlink out."""
    root = tmp_path / "public"
    (root / "css").mkdir(parents=True)
    (root / "docs").mkdir()
    (root / "empty").mkdir()
    (root / ".git").mkdir()
    (root / ".well-known").mkdir()
    (root / "index.html").write_text("<h1>home</h1>")
    (root / "hello.txt").write_text("hello, world\n")
    (root / "css" / "site.css").write_text("body { color: red }")
    (root / "docs" / "guide.md").write_text("# guide")
    (root / "app.js").write_text("console.log('plain')")
    (root / "app.js.gz").write_bytes(b"GZ-BYTES")
    (root / "app.js.br").write_bytes(b"BR-BYTES")
    (root / "data.bin").write_bytes(bytes(range(256)) * 4)
    (root / "big.bin").write_bytes(os.urandom(BIG_SIZE))
    (root / ".secret").write_text("hidden")
    (root / ".git" / "config").write_text("[core]")
    (root / ".well-known" / "security.txt").write_text("Contact: me")
    (root / '<b>&weird"name.txt').write_text("weird")
    outside = tmp_path / "outside.txt"
    outside.write_text("OUTSIDE-SECRET")
    (root / "escape.txt").symlink_to(outside)
    (root / "inside-link.txt").symlink_to(root / "hello.txt")
    return root


@pytest.fixture
def make_client() -> Callable[..., tuple[BaseServer, Client]]:
    def make(*apps: BaseComponent) -> tuple[BaseServer, Client]:
        transport = MemoryTransport(channel="web")
        server = BaseServer(transport=transport)
        for app in apps:
            server += app
        return server, Client(transport)

    return make
