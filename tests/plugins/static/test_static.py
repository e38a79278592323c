"""Static over the in-memory transport: what a browser, curl and a cache see."""

from __future__ import annotations

import os
import pathlib
from collections.abc import Callable
from typing import IO, Any

import pytest

from relays import Component, handler
from relays.testing import MemoryConnection, MemoryTransport, forget_capabilities
from relays_http import BaseServer, Request, Response
from relays_static import Static, StaticLimits

Make = Callable[..., Any]


async def test_serves_a_file_with_its_type_and_validators(
    docroot: pathlib.Path, make_client: Make
) -> None:
    server, client = make_client(Static("/", docroot=docroot))
    async with server:
        status, headers, body = await client("/hello.txt")
        assert (status, body) == (200, b"hello, world\n")
        assert headers["content-type"] == "text/plain; charset=utf-8"
        assert headers["content-length"] == "13"
        assert headers["etag"].startswith('"')
        assert headers["last-modified"].endswith(" GMT")
        assert headers["accept-ranges"] == "bytes"
        assert headers["x-content-type-options"] == "nosniff"
        status, headers, _ = await client("/css/site.css")
        assert headers["content-type"] == "text/css; charset=utf-8"
        status, headers, _ = await client("/app.js")
        assert headers["content-type"] == "text/javascript; charset=utf-8"
        status, headers, _ = await client("/data.bin")
        assert headers["content-type"] == "application/octet-stream"


async def test_mounted_at_a_prefix(docroot: pathlib.Path, make_client: Make) -> None:
    server, client = make_client(Static("/static", docroot=docroot))
    async with server:
        assert (await client("/static/hello.txt"))[0] == 200
        assert (await client("/hello.txt"))[0] == 404
        assert (await client("/statichello.txt"))[0] == 404
        status, headers, _ = await client("/static?x=1")
        assert (status, headers["location"]) == (301, "/static/?x=1")
        assert (await client("/static/"))[2] == b"<h1>home</h1>"


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/../outside.txt", 404),
        ("/%2e%2e/outside.txt", 404),
        ("/css/..%2f..%2foutside.txt", 404),
        ("/..%5coutside.txt", 404),
        ("/hello.txt%00.png", 404),
        ("/.secret", 404),
        ("/.git/config", 404),
        ("/escape.txt", 403),
        ("/nothing-here", 404),
        ("/.well-known/security.txt", 200),
        ("/inside-link.txt", 200),
    ],
)
async def test_refusals(docroot: pathlib.Path, make_client: Make, path: str, status: int) -> None:
    server, client = make_client(Static("/", docroot=docroot))
    async with server:
        got, _, body = await client(path)
        assert got == status, body
        assert b"OUTSIDE-SECRET" not in body


async def test_refused_paths_never_reach_other_handlers(
    docroot: pathlib.Path, make_client: Make
) -> None:
    class Catch(Component):
        channel = "web"

        @handler("request")
        def request(self, request: Request, response: Response) -> str:
            return "fallback"

    server, client = make_client(Static("/", docroot=docroot), Catch())
    async with server:
        assert (await client("/missing"))[2] == b"fallback"  # not ours: passed on
        assert (await client("/%2e%2e/outside.txt"))[0] == 404  # refused: answered
        assert (await client("/hello.txt"))[2] == b"hello, world\n"


async def test_symlinks_off(docroot: pathlib.Path, make_client: Make) -> None:
    server, client = make_client(Static("/", docroot=docroot, follow_symlinks=False))
    async with server:
        assert (await client("/inside-link.txt"))[0] == 403


async def test_hidden_files_on(docroot: pathlib.Path, make_client: Make) -> None:
    server, client = make_client(Static("/", docroot=docroot, hidden_files=True))
    async with server:
        assert (await client("/.secret"))[2] == b"hidden"


async def test_directories(docroot: pathlib.Path, make_client: Make) -> None:
    server, client = make_client(Static("/", docroot=docroot))
    async with server:
        assert (await client("/"))[2] == b"<h1>home</h1>"
        status, headers, _ = await client("/css")
        assert (status, headers["location"]) == (301, "/css/")
        status, headers, _ = await client("//css")  # never a protocol-relative "//css/"
        assert (status, headers["location"]) == (301, "/css/")
        status, headers, _ = await client("/./css")
        assert (status, headers["location"]) == (301, "/css/")
        assert (await client("/css/"))[0] == 403  # no index, no listing


async def test_custom_index_files(docroot: pathlib.Path, make_client: Make) -> None:
    server, client = make_client(Static("/", docroot=docroot, index_files=("guide.md",)))
    async with server:
        status, headers, body = await client("/docs/")
        assert (status, body) == (200, b"# guide")
        assert headers["content-type"].startswith("text/markdown")


async def test_listing_is_escaped_and_hides_hidden_files(
    docroot: pathlib.Path, make_client: Make
) -> None:
    server, client = make_client(Static("/", docroot=docroot, listing=True, index_files=()))
    async with server:
        status, headers, body = await client("/")
        assert status == 200
        assert headers["content-type"] == "text/html; charset=utf-8"
        page = body.decode()
        assert "&lt;b&gt;&amp;weird&quot;name.txt" in page
        assert "<b>" not in page
        assert 'href="%3Cb%3E%26weird%22name.txt"' in page
        assert ".secret" not in page
        assert ".git" not in page
        assert 'href="css/"' in page
        status, headers, body = await client("/", "HEAD")
        assert (status, body) == (200, b"")
        assert int(headers["content-length"]) == len(page.encode())


async def test_listing_is_bounded(docroot: pathlib.Path, make_client: Make) -> None:
    limits = StaticLimits(max_listing_entries=3)
    static = Static("/", docroot=docroot, listing=True, index_files=(), limits=limits)
    server, client = make_client(static)
    async with server:
        page = (await client("/"))[2].decode()
        assert page.count("<li>") == 3
        assert "more entries are not shown" in page


async def test_head_has_the_get_head_and_no_body(docroot: pathlib.Path, make_client: Make) -> None:
    server, client = make_client(Static("/", docroot=docroot))
    async with server:
        _, get_headers, _ = await client("/big.bin")
        status, headers, body = await client("/big.bin", "HEAD")
        assert (status, body) == (200, b"")
        for name in ("content-length", "etag", "last-modified", "content-type"):
            assert headers[name] == get_headers[name]
        status, headers, _ = await client("/hello.txt", "HEAD")
        assert headers["content-length"] == "13"


async def test_other_methods_on_a_file_are_405(docroot: pathlib.Path, make_client: Make) -> None:
    server, client = make_client(Static("/", docroot=docroot))
    async with server:
        status, headers, _ = await client("/hello.txt", "POST")
        assert (status, headers["allow"]) == (405, "GET, HEAD")
        assert (await client("/missing", "POST"))[0] == 404


async def test_nosniff_can_be_off(docroot: pathlib.Path, make_client: Make) -> None:
    server, client = make_client(Static("/", docroot=docroot, nosniff=False))
    async with server:
        assert "x-content-type-options" not in (await client("/hello.txt"))[1]


async def test_extra_media_types(docroot: pathlib.Path, make_client: Make) -> None:
    static = Static("/", docroot=docroot, media_types={".md": "text/x-guide"}, charset="")
    server, client = make_client(static)
    async with server:
        assert (await client("/docs/guide.md"))[1]["content-type"] == "text/x-guide"


async def test_big_files_are_streamed_whole(docroot: pathlib.Path, make_client: Make) -> None:
    server, client = make_client(
        Static("/", docroot=docroot, limits=StaticLimits(chunk_size=4096))
    )
    async with server:
        status, headers, body = await client("/big.bin")
        assert status == 200
        assert body == (docroot / "big.bin").read_bytes()
        assert headers["content-length"] == str(len(body))


# -- conditional requests --------------------------------------------------------------


async def test_conditional_get(docroot: pathlib.Path, make_client: Make) -> None:
    server, client = make_client(Static("/", docroot=docroot, cache_control={"*.txt": "no-cache"}))
    async with server:
        _, headers, _ = await client("/hello.txt")
        etag, modified = headers["etag"], headers["last-modified"]
        status, headers, body = await client("/hello.txt", if_none_match=etag)
        assert (status, body) == (304, b"")
        assert headers["etag"] == etag
        assert headers["cache-control"] == "no-cache"
        assert "content-length" not in headers
        assert (await client("/hello.txt", if_modified_since=modified))[0] == 304
        assert (await client("/hello.txt", if_none_match='"nope"'))[0] == 200
        assert (await client("/hello.txt", if_match='"nope"'))[0] == 412
        assert (await client("/hello.txt", if_match=etag))[0] == 200
        old = "Mon, 01 Jan 1990 00:00:00 GMT"
        assert (await client("/hello.txt", if_unmodified_since=old))[0] == 412
        assert (await client("/hello.txt", "HEAD", if_none_match=etag))[0] == 304


async def test_a_changed_file_gets_a_new_etag(docroot: pathlib.Path, make_client: Make) -> None:
    server, client = make_client(Static("/", docroot=docroot))
    async with server:
        first = (await client("/hello.txt"))[1]["etag"]
        target = docroot / "hello.txt"
        target.write_text("changed!")
        stat = target.stat()
        os.utime(target, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
        status, headers, body = await client("/hello.txt", if_none_match=first)
        assert (status, body) == (200, b"changed!")
        assert headers["etag"] != first


# -- ranges ------------------------------------------------------------------------------


async def test_single_range(docroot: pathlib.Path, make_client: Make) -> None:
    server, client = make_client(Static("/", docroot=docroot))
    async with server:
        data = (docroot / "data.bin").read_bytes()
        status, headers, body = await client("/data.bin", range="bytes=10-19")
        assert (status, body) == (206, data[10:20])
        assert headers["content-range"] == f"bytes 10-19/{len(data)}"
        status, _, body = await client("/data.bin", range="bytes=-4")
        assert (status, body) == (206, data[-4:])
        big = (docroot / "big.bin").read_bytes()
        status, headers, body = await client("/big.bin", range="bytes=1000-")
        assert (status, body) == (206, big[1000:])
        assert headers["content-length"] == str(len(big) - 1000)


async def test_multiple_ranges(docroot: pathlib.Path, make_client: Make) -> None:
    server, client = make_client(Static("/", docroot=docroot))
    async with server:
        data = (docroot / "data.bin").read_bytes()
        status, headers, body = await client("/data.bin", range="bytes=0-3,100-103")
        assert status == 206
        media, _, boundary = headers["content-type"].partition("; boundary=")
        assert media == "multipart/byteranges"
        parts = body.split(f"--{boundary}".encode())
        assert parts[-1] == b"--\r\n"
        assert b"Content-Range: bytes 0-3/1024\r\n\r\n" + data[0:4] in parts[1]
        assert b"Content-Range: bytes 100-103/1024\r\n\r\n" + data[100:104] in parts[2]
        assert b"Content-Type: application/octet-stream" in parts[1]
        big = (docroot / "big.bin").read_bytes()
        status, headers, body = await client("/big.bin", range="bytes=0-99999,200000-299999")
        assert status == 206
        assert big[:100000] in body
        assert big[200000:] in body
        assert len(body) == int(headers["content-length"])


async def test_unsatisfiable_and_ignored_ranges(docroot: pathlib.Path, make_client: Make) -> None:
    server, client = make_client(Static("/", docroot=docroot, limits=StaticLimits(max_ranges=2)))
    async with server:
        status, headers, _ = await client("/data.bin", range="bytes=5000-")
        assert (status, headers["content-range"]) == (416, "bytes */1024")
        assert (await client("/data.bin", range="bytes=0-1,4-5,8-9"))[0] == 200  # over the cap
        assert (await client("/data.bin", range="lines=1-2"))[0] == 200
        assert (await client("/data.bin", "HEAD", range="bytes=0-1"))[0] == 200


async def test_if_range(docroot: pathlib.Path, make_client: Make) -> None:
    server, client = make_client(Static("/", docroot=docroot))
    async with server:
        headers = (await client("/data.bin"))[1]
        etag, modified = headers["etag"], headers["last-modified"]
        assert (await client("/data.bin", range="bytes=0-1", if_range=etag))[0] == 206
        assert (await client("/data.bin", range="bytes=0-1", if_range=modified))[0] == 206
        assert (await client("/data.bin", range="bytes=0-1", if_range='"old"'))[0] == 200
        old = "Mon, 01 Jan 1990 00:00:00 GMT"
        assert (await client("/data.bin", range="bytes=0-1", if_range=old))[0] == 200


# -- pre-compressed variants and Cache-Control ---------------------------------------


async def test_precompressed_variants(docroot: pathlib.Path, make_client: Make) -> None:
    server, client = make_client(Static("/", docroot=docroot))
    async with server:
        status, headers, body = await client("/app.js", accept_encoding="gzip, br")
        assert (body, headers["content-encoding"]) == (b"BR-BYTES", "br")
        assert headers["vary"] == "Accept-Encoding"
        assert headers["content-type"] == "text/javascript; charset=utf-8"
        _, headers, body = await client("/app.js", accept_encoding="gzip")
        assert (body, headers["content-encoding"]) == (b"GZ-BYTES", "gzip")
        gzip_etag = headers["etag"]
        _, headers, body = await client("/app.js", accept_encoding="br;q=0, gzip;q=0.5")
        assert body == b"GZ-BYTES"
        _, headers, body = await client("/app.js")
        assert body == b"console.log('plain')"
        assert "content-encoding" not in headers
        assert headers["vary"] == "Accept-Encoding"
        assert headers["etag"] != gzip_etag
        _, headers, body = await client("/app.js", accept_encoding="*;q=0")
        assert body == b"console.log('plain')"
        assert "vary" not in (await client("/hello.txt", accept_encoding="br"))[1]
        status, _, _ = await client("/app.js", accept_encoding="gzip", if_none_match=gzip_etag)
        assert status == 304
        assert (await client("/app.js", accept_encoding="br", if_none_match=gzip_etag))[0] == 200


async def test_precompressed_off(docroot: pathlib.Path, make_client: Make) -> None:
    server, client = make_client(Static("/", docroot=docroot, precompressed=()))
    async with server:
        _, headers, body = await client("/app.js", accept_encoding="br")
        assert body == b"console.log('plain')"
        assert "vary" not in headers


async def test_a_variant_symlinked_outside_is_not_served(
    docroot: pathlib.Path, make_client: Make, tmp_path: pathlib.Path
) -> None:
    (docroot / "hello.txt.gz").symlink_to(tmp_path / "outside.txt")
    server, client = make_client(Static("/", docroot=docroot))
    async with server:
        assert (await client("/hello.txt", accept_encoding="gzip"))[2] == b"hello, world\n"


async def test_cache_control_by_pattern(docroot: pathlib.Path, make_client: Make) -> None:
    rules = [("css/*", "public, max-age=31536000, immutable"), ("*.html", "no-cache")]
    server, client = make_client(Static("/", docroot=docroot, cache_control=rules))
    async with server:
        assert (await client("/css/site.css"))[1]["cache-control"].endswith("immutable")
        assert (await client("/"))[1]["cache-control"] == "no-cache"
        assert "cache-control" not in (await client("/hello.txt"))[1]


def test_bad_arguments(docroot: pathlib.Path) -> None:
    with pytest.raises(ValueError, match="directory"):
        Static("/", docroot=docroot / "hello.txt")
    with pytest.raises(ValueError, match="starting with '/'"):
        Static("static", docroot=docroot)
    with pytest.raises(ValueError, match="max_ranges"):
        StaticLimits(max_ranges=0)


async def test_with_sendfile_big_files_and_ranges_go_as_file_regions(
    docroot: pathlib.Path,
    make_client: Make,
    monkeypatch: pytest.MonkeyPatch,
    request: pytest.FixtureRequest,
) -> None:
    """A handle with ``sendfile`` gets the file's bytes through it, never as chunks."""
    calls: list[tuple[int, int | None]] = []

    async def sendfile(
        self: MemoryConnection, file: IO[bytes], offset: int = 0, count: int | None = None
    ) -> int:
        calls.append((offset, count))
        file.seek(offset)
        data = file.read(count)
        self.write(data)
        return len(data)

    monkeypatch.setattr(MemoryConnection, "sendfile", sendfile, raising=False)
    # Capabilities are remembered per class: forget them now, and again before the method
    # goes.
    forget_capabilities()
    request.addfinalizer(forget_capabilities)
    big = (docroot / "big.bin").read_bytes()
    server, client = make_client(Static("/", docroot=docroot))
    async with server:
        status, headers, body = await client("/big.bin")
        assert (status, body, calls) == (200, big, [(0, len(big))])
        assert headers["content-length"] == str(len(big))
        calls.clear()
        status, headers, body = await client("/big.bin", range="bytes=1000-")
        assert (status, body, calls) == (206, big[1000:], [(1000, len(big) - 1000)])
        calls.clear()
        status, headers, body = await client("/big.bin", range="bytes=0-99999,200000-299999")
        assert status == 206
        assert calls == [(0, 100000), (200000, 100000)]
        assert headers["content-length"] == str(len(body))
        assert big[:100000] in body
        assert big[200000:] in body
        calls.clear()
        status, headers, body = await client("/big.bin", "HEAD")
        assert (status, body, calls) == (200, b"", [])
        status, _, body = await client("/hello.txt")  # small: one write, no sendfile
        assert (status, body, calls) == (200, b"hello, world\n", [])


async def test_the_fields_written_are_lower_case(docroot: pathlib.Path) -> None:
    # Other tests read fields without regard to case; this one pins the bytes written.
    transport = MemoryTransport(channel="web")
    server = BaseServer(transport=transport) + Static("/", docroot=docroot)
    async with server:
        client = transport.connect()
        client.send(b"GET /hello.txt HTTP/1.1\r\nHost: x\r\n\r\n")
        data = await client.wait(lambda data: data.endswith(b"hello, world\n"))
    head = data.split(b"\r\n\r\n", 1)[0]
    names = [line.split(b":", 1)[0] for line in head.split(b"\r\n")[1:]]
    for name in (b"etag", b"last-modified", b"content-type", b"accept-ranges"):
        assert name in names
    assert [name for name in names if name != name.lower()] == []
