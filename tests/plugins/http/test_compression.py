"""Compression: codings negotiated, sizes and types, Vary, streams compressed as they
stream, and what is never compressed; with curl on a real socket."""

from __future__ import annotations

import asyncio
import gzip
import shutil
import subprocess
import tempfile
import threading
import zlib
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from relays import Component
from relays.testing import MemoryTransport
from relays_http import (
    BaseServer,
    Compression,
    FileRegion,
    NotFound,
    Request,
    Response,
    Server,
    _compression,
    available_encodings,
    compress_response,
    new_encoder,
)
from relays_http.testing import Client, memory_server, serve_in_thread

TEXT = "relays compresses what is worth it. " * 40  # 1440 bytes, well over the minimum
BIG = "".join(f"<p>paragraph {index} of a long page</p>\n" for index in range(4000))  # ~140 KB


class Pages(Component):
    channel = "web"

    def __init__(self) -> None:
        super().__init__()
        self.release = asyncio.Event()

    async def request(self, request: Request, response: Response) -> Any:
        path = request.path
        if path == "/text":
            return TEXT
        if path == "/small":
            return "tiny"
        if path == "/json":
            return {"items": list(range(300))}
        if path == "/bytes":
            return TEXT.encode()
        if path == "/plain-bytes":
            response.content_type = "text/plain"
            return TEXT.encode()
        if path == "/encoded":
            response.headers["Content-Encoding"] = "gzip"
            response.content_type = "text/plain"
            return gzip.compress(TEXT.encode())
        if path == "/partial":
            return Response(TEXT[:100], 206, headers={"Content-Range": f"bytes 0-99/{len(TEXT)}"})
        if path == "/etag":
            response.headers["ETag"] = '"v1"'
            response.headers["Vary"] = "Cookie"
            return TEXT
        if path == "/no-transform":
            response.headers["Cache-Control"] = "no-transform"
            return TEXT
        if path == "/stream":
            response.content_type = "text/plain"
            return (f"line {index}\n" for index in range(100))
        if path == "/held":
            response.content_type = "text/plain"
            return self.held()
        if path == "/cookie":
            response.set_cookie("seen", "yes")
            return TEXT
        if path == "/big":
            return BIG
        if path == "/missing":
            raise NotFound()
        return None

    async def held(self) -> AsyncIterator[str]:
        yield "first part\n"
        await self.release.wait()
        yield "second part\n"


def serve(**options: Any) -> tuple[BaseServer, MemoryTransport, Pages]:
    pages = Pages()
    server, transport = memory_server(Compression(**options), pages)
    return server, transport, pages


def gunzip(data: bytes) -> str:
    return gzip.decompress(data).decode()


async def test_gzip_when_the_client_accepts_it() -> None:
    server, transport, _ = serve()
    async with server:
        client = Client(transport)
        response = await client.get("/text", headers={"Accept-Encoding": "gzip"})
        assert response.headers["content-encoding"] == "gzip"
        assert response.headers["vary"] == "Accept-Encoding"
        assert int(response.headers["content-length"]) == len(response.body) < len(TEXT)
        assert gunzip(response.body) == TEXT


async def test_no_accept_encoding_means_no_coding_but_vary() -> None:
    server, transport, _ = serve()
    async with server:
        client = Client(transport)
        response = await client.get("/text")
        assert "content-encoding" not in response.headers
        assert response.headers["vary"] == "Accept-Encoding"
        assert response.text == TEXT


@pytest.mark.parametrize(
    ("field", "coding"),
    [
        ("gzip;q=0.5, deflate", "deflate"),
        ("deflate;q=0.2, gzip;q=0.9", "gzip"),
        ("*", available_encodings()[0]),
        ("gzip;q=0, *;q=0.1", available_encodings()[0]),
        ("gzip;q=0", None),
        ("identity", None),
        ("x-gzip", "gzip"),
        ("br;q=1, gzip;q=0.8", "br"),
        ("zstd, gzip;q=0.5", "zstd"),
    ],
)
async def test_q_values_choose_the_coding(field: str, coding: str | None) -> None:
    if coding in ("br", "zstd"):
        pytest.importorskip({"br": "brotli", "zstd": "zstandard"}[coding])
    server, transport, _ = serve()
    async with server:
        response = await Client(transport).get("/text", headers={"Accept-Encoding": field})
        assert response.headers.get("content-encoding") == coding
        decoded = {
            None: lambda data: data,
            "gzip": gzip.decompress,
            "deflate": zlib.decompress,
            "br": _brotli_decompress,
            "zstd": _zstd_decompress,
        }[coding](response.body)
        assert decoded.decode() == TEXT


def _brotli_decompress(data: bytes) -> bytes:
    brotli = pytest.importorskip("brotli")
    return bytes(brotli.decompress(data))


def _zstd_decompress(data: bytes) -> bytes:
    zstandard = pytest.importorskip("zstandard")
    return bytes(zstandard.ZstdDecompressor().decompressobj().decompress(data))


async def test_our_order_breaks_ties() -> None:
    server, transport, _ = serve(encodings=["deflate", "gzip"])
    async with server:
        response = await Client(transport).get(
            "/text", headers={"Accept-Encoding": "gzip, deflate, br"}
        )
        assert response.headers["content-encoding"] == "deflate"


@pytest.mark.parametrize("path", ["/small", "/bytes", "/encoded", "/partial", "/no-transform"])
async def test_what_is_not_compressed(path: str) -> None:
    server, transport, _ = serve()
    async with server:
        response = await Client(transport).get(path, headers={"Accept-Encoding": "gzip"})
        expected = "gzip" if path == "/encoded" else None
        assert response.headers.get("content-encoding") == expected
        if path == "/bytes":  # application/octet-stream is not worth it: no Vary either
            assert "vary" not in response.headers
        if path == "/small":
            assert response.text == "tiny"
            assert response.headers["vary"] == "Accept-Encoding"


async def test_errors_are_left_alone() -> None:
    server, transport, _ = serve()
    async with server:
        client = Client(transport)
        for path in ("/missing", "/nowhere"):
            response = await client.get(path, headers={"Accept-Encoding": "gzip"})
            assert response.status == 404
            assert "content-encoding" not in response.headers


async def test_content_types_and_minimum_size_are_settings() -> None:
    server, transport, _ = serve(content_types=["text/plain"], minimum_size=0)
    async with server:
        client = Client(transport)
        html = await client.get("/text", headers={"Accept-Encoding": "gzip"})
        assert "content-encoding" not in html.headers
        plain = await client.get("/plain-bytes", headers={"Accept-Encoding": "gzip"})
        assert plain.headers["content-encoding"] == "gzip"


async def test_a_big_body_is_compressed_off_the_loop_in_one_chunk(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    threads: list[str] = []
    compress_whole = _compression._compress_whole

    def recording(encoder: Any, data: bytes) -> bytes:
        threads.append(threading.current_thread().name)
        return compress_whole(encoder, data)

    monkeypatch.setattr(_compression, "_compress_whole", recording)
    server, transport, _ = serve(thread_threshold=64 * 1024)
    async with server:
        client = Client(transport)
        big = await client.get("/big", headers={"Accept-Encoding": "gzip"})
        small = await client.get("/text", headers={"Accept-Encoding": "gzip"})
    assert big.headers["content-encoding"] == "gzip"
    assert big.headers["transfer-encoding"] == "chunked"
    assert gunzip(big.body) == BIG
    assert gunzip(small.body) == TEXT
    loop_thread = threading.current_thread().name
    assert threads[0] != loop_thread  # the big page, in the executor
    assert threads[1] == loop_thread  # the small one, at once


async def test_the_thread_threshold_can_be_turned_off() -> None:
    server, transport, _ = serve(thread_threshold=None)
    async with server:
        big = await Client(transport).get("/big", headers={"Accept-Encoding": "gzip"})
    assert int(big.headers["content-length"]) == len(big.body)
    assert gunzip(big.body) == BIG
    with pytest.raises(ValueError, match="thread_threshold"):
        Compression(thread_threshold=-1)


async def test_json_bodies_keep_their_type() -> None:
    server, transport, _ = serve()
    async with server:
        response = await Client(transport).get("/json", headers={"Accept-Encoding": "gzip"})
        assert response.headers["content-type"] == "application/json"
        assert gunzip(response.body) == '{"items":[' + ",".join(map(str, range(300))) + "]}"


async def test_a_strong_etag_becomes_weak_and_vary_is_extended() -> None:
    server, transport, _ = serve()
    async with server:
        response = await Client(transport).get("/etag", headers={"Accept-Encoding": "gzip"})
        assert response.headers["etag"] == 'W/"v1"'
        assert response.headers["vary"] == "Cookie, Accept-Encoding"


async def test_cookies_travel_with_the_compressed_page() -> None:
    server, transport, _ = serve()
    async with server:
        response = await Client(transport).get("/cookie", headers={"Accept-Encoding": "gzip"})
        assert response.headers["content-encoding"] == "gzip"
        assert response.headers["set-cookie"].startswith("seen=yes")


async def test_streams_are_compressed_whole() -> None:
    server, transport, _ = serve()
    async with server:
        response = await Client(transport).get("/stream", headers={"Accept-Encoding": "gzip"})
        assert response.headers["transfer-encoding"] == "chunked"
        assert gunzip(response.body) == "".join(f"line {index}\n" for index in range(100))


async def test_a_stream_is_compressed_as_it_streams() -> None:
    """The first part can be decoded before the page yields the second."""
    server, transport, pages = serve()
    async with server:
        client = Client(transport)
        client.send_request("GET", "/held", headers={"Accept-Encoding": "gzip"})
        decoder = zlib.decompressobj(16 + zlib.MAX_WBITS)
        received = b""
        decoded = ""
        while "first part\n" not in decoded:
            await client.connection.wait(timeout=5)
            received += client.connection.take()
            head, _, chunked = received.partition(b"\r\n\r\n")
            decoded = decoder.decompress(_unchunk(chunked)).decode()
            decoder = zlib.decompressobj(16 + zlib.MAX_WBITS)
        assert b"content-encoding: gzip" in head.lower()
        pages.release.set()
        while not received.endswith(b"\r\n0\r\n\r\n"):
            await client.connection.wait(timeout=5)
            received += client.connection.take()
        body = _unchunk(received.partition(b"\r\n\r\n")[2])
        assert gunzip(body) == "first part\nsecond part\n"


def _unchunk(data: bytes) -> bytes:
    """The payload of the complete chunks in *data*."""
    payload = b""
    while b"\r\n" in data:
        size_line, _, rest = data.partition(b"\r\n")
        size = int(size_line, 16)
        if size == 0 or len(rest) < size + 2:
            break
        payload += rest[:size]
        data = rest[size + 2 :]
    return payload


async def test_file_regions_are_read_and_compressed() -> None:
    with tempfile.NamedTemporaryFile() as file:
        file.write(TEXT.encode())
        file.flush()

        class Files(Component):
            channel = "web"

            def request(self, request: Request, response: Response) -> Any:
                response.content_type = "text/css"
                response.headers["Content-Length"] = str(len(TEXT) + 2)
                response.headers["Accept-Ranges"] = "bytes"
                if request.path == "/async":
                    return self.regions()
                return iter([b"/*", FileRegion(file.fileno(), 0, len(TEXT))])

            async def regions(self) -> AsyncIterator[bytes | FileRegion]:
                yield b"/*"
                yield FileRegion(file.fileno(), 0, len(TEXT))

        server, transport = memory_server(Compression(), Files())
        async with server:
            client = Client(transport)
            for path in ("/sync", "/async"):
                response = await client.get(path, headers={"Accept-Encoding": "gzip"})
                assert response.headers["content-encoding"] == "gzip"
                assert "accept-ranges" not in response.headers
                assert gunzip(response.body) == "/*" + TEXT


def test_compress_response_for_a_response_of_ones_own() -> None:
    request = Request("GET", "/", headers=[(b"accept-encoding", b"deflate")])
    response = Response(TEXT, content_type="text/plain")
    assert compress_response(request, response)
    assert zlib.decompress(response.body).decode() == TEXT
    assert not compress_response(request, response)  # already encoded


def test_encoders_round_trip_with_flushes() -> None:
    for coding in available_encodings():
        encoder = new_encoder(coding)
        data = encoder.compress(b"abc") + encoder.flush() + encoder.compress(b"def")
        data += encoder.finish()
        if coding == "gzip":
            assert gzip.decompress(data) == b"abcdef"
        elif coding == "deflate":
            assert zlib.decompress(data) == b"abcdef"
        elif coding == "br":
            assert _brotli_decompress(data) == b"abcdef"
        else:
            assert _zstd_decompress(data) == b"abcdef"


def test_unknown_or_missing_codings_are_refused_at_once() -> None:
    with pytest.raises(ValueError, match="no content coding 'lzma'"):
        Compression(encodings=["lzma"])
    with pytest.raises(ValueError, match="minimum_size"):
        Compression(minimum_size=-1)


@pytest.fixture
def curl() -> str:
    path = shutil.which("curl")
    if path is None:
        pytest.skip("curl is not installed (apt-get install curl)")
    return path


@pytest.fixture
def live_server() -> Iterator[BaseServer]:
    with serve_in_thread(Server("tcp://127.0.0.1:0") + Compression() + Pages()) as server:
        yield server


@pytest.mark.integration
@pytest.mark.parametrize("path", ["/text", "/stream"])
def test_curl_decodes_what_it_asked_for(curl: str, live_server: BaseServer, path: str) -> None:
    url = f"http://127.0.0.1:{live_server.port}{path}"
    result = subprocess.run(
        [curl, "--silent", "--show-error", "--compressed", "--dump-header", "-", url],
        capture_output=True,
        check=True,
        timeout=10,
    )
    head, _, body = result.stdout.partition(b"\r\n\r\n")
    assert b"content-encoding: " in head.lower()
    expected = TEXT if path == "/text" else "".join(f"line {i}\n" for i in range(100))
    assert body.decode() == expected
    raw = subprocess.run(
        [curl, "--silent", "--show-error", "-H", "Accept-Encoding: gzip", url],
        capture_output=True,
        check=True,
        timeout=10,
    )
    assert gunzip(raw.stdout) == expected
