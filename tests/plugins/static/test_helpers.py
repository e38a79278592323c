"""serve_file and serve_download from a request handler."""

from __future__ import annotations

import os
import pathlib
from collections.abc import Callable
from typing import Any

import pytest

from relays import Component, handler
from relays_http import FileRegion, Request, Response
from relays_static import FileChanged, serve_download, serve_file
from relays_static._files import accepted_codings, content_disposition, stream_file

Make = Callable[..., Any]


class Files(Component):
    channel = "web"

    def __init__(self, root: pathlib.Path) -> None:
        super().__init__()
        self.folder = root

    @handler("request")
    def request(self, request: Request, response: Response) -> Any:
        if request.path == "/report":
            response.set_cookie("seen", "1")
            return serve_file(request, response, self.folder / "data.bin", "application/x-report")
        if request.path == "/download":
            return serve_download(request, response, self.folder / "hello.txt", "rapport é.txt")
        if request.path == "/inline":
            return serve_file(request, response, self.folder / "hello.txt", disposition="inline")
        if request.path == "/compressed":
            return serve_file(request, response, self.folder / "app.js", precompressed=True)
        if request.path == "/missing":
            return serve_file(request, response, self.folder / "nope")
        return serve_file(request, response, self.folder / "app.js", cache_control="no-store")


async def test_serve_file(docroot: pathlib.Path, make_client: Make) -> None:
    server, client = make_client(Files(docroot))
    async with server:
        status, headers, body = await client("/report", range="bytes=0-1")
        assert (status, body) == (206, bytes([0, 1]))
        assert headers["content-type"] == "application/x-report"
        assert headers["set-cookie"].startswith("seen=1")
        etag = headers["etag"]
        assert (await client("/report", if_none_match=etag))[0] == 304
        status, headers, body = await client("/other", accept_encoding="br")
        assert body == b"console.log('plain')"  # variants only when asked for
        assert headers["cache-control"] == "no-store"
        assert (await client("/compressed", accept_encoding="br"))[2] == b"BR-BYTES"
        assert (await client("/missing"))[0] == 404


async def test_serve_download(docroot: pathlib.Path, make_client: Make) -> None:
    server, client = make_client(Files(docroot))
    async with server:
        status, headers, body = await client("/download")
        assert (status, body) == (200, b"hello, world\n")
        assert headers["content-type"] == "application/octet-stream"
        assert headers["content-disposition"] == (
            "attachment; filename=\"rapport _.txt\"; filename*=UTF-8''rapport%20%C3%A9.txt"
        )
        _, headers, _ = await client("/inline")
        assert headers["content-disposition"] == 'inline; filename="hello.txt"'


def test_content_disposition_never_breaks_the_field() -> None:
    value = content_disposition("attachment", 'a"b\\c\r\n%.txt')
    assert "\r" not in value
    assert "\n" not in value
    assert 'filename="a_b_c___.txt"' in value


def test_accept_encoding() -> None:
    assert accepted_codings("gzip, br;q=0.5, *;q=0") == {"gzip": 1.0, "br": 0.5, "*": 0.0}
    assert accepted_codings("x-gzip;q=0.3, identity") == {"gzip": 0.3, "identity": 1.0}
    assert accepted_codings("br;q=nan, gzip;q=2, deflate;q=x") == {
        "br": 0.0,
        "gzip": 0.0,
        "deflate": 0.0,
    }


async def test_a_file_changed_after_its_head_is_not_finished(docroot: pathlib.Path) -> None:
    path = docroot / "big.bin"
    before = os.stat(path)
    path.write_bytes(b"short now")
    stream = stream_file(str(path), before, [(b"", 0, before.st_size)], b"", 4096)
    with pytest.raises(FileChanged):
        async for _ in stream:
            pass


async def test_streams_parts_with_their_prefixes(docroot: pathlib.Path) -> None:
    path = docroot / "data.bin"
    data = path.read_bytes()
    parts = [(b"<a>", 0, 10), (b"<b>", 500, 300)]
    chunks = [chunk async for chunk in stream_file(str(path), os.stat(path), parts, b"<end>", 64)]
    assert b"".join(chunks) == b"<a>" + data[:10] + b"<b>" + data[500:800] + b"<end>"
    assert max(len(chunk) for chunk in chunks) <= 64


async def test_zero_copy_yields_file_regions_between_prefixes(docroot: pathlib.Path) -> None:
    path = docroot / "data.bin"
    parts = [(b"<a>", 0, 10), (b"<b>", 500, 300)]
    stream = stream_file(str(path), os.stat(path), parts, b"<end>", 64, zero_copy=True)
    chunks = [chunk async for chunk in stream]
    assert [type(chunk) for chunk in chunks] == [bytes, FileRegion, bytes, FileRegion, bytes]
    regions = [(chunk.offset, chunk.count) for chunk in chunks if isinstance(chunk, FileRegion)]
    assert regions == [(0, 10), (500, 300)]
