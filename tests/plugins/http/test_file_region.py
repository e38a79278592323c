"""FileRegion: framing in the protocol core, sendfile on TCP, read-and-write elsewhere."""

from __future__ import annotations

import asyncio
import gc
import hashlib
import logging
import os
import pathlib
import ssl
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
import trustme
from hypothesis import given, settings
from hypothesis import strategies as st

import relays_http._files
from relays import Component, handler
from relays.testing import MemoryTransport
from relays_http import BaseServer, FileRegion, Request, Response, Server
from relays_http._files import write_region
from relays_http._protocol import (
    Connection,
    Data,
    EndOfMessage,
    LocalProtocolError,
    State,
)
from relays_http._protocol import (
    Response as ProtocolResponse,
)
from relays_http.testing import Client

GET_11 = b"GET / HTTP/1.1\r\nHost: t\r\n\r\n"
GET_10 = b"GET / HTTP/1.0\r\n\r\n"
HEAD_11 = b"HEAD / HTTP/1.1\r\nHost: t\r\n\r\n"


def answering(request: bytes, fields: list[tuple[bytes, bytes]], status: int = 200) -> Connection:
    connection = Connection()
    connection.receive_data(request)
    connection.next_event()
    connection.next_event()
    connection.send(ProtocolResponse(status, fields))
    return connection


# -- the protocol core ----------------------------------------------------------------


def test_chunked_region_gets_a_size_line_and_a_crlf() -> None:
    connection = answering(GET_11, [])
    assert connection.send_file_region(300) == (b"12c\r\n", b"\r\n")
    assert connection.send_file_region(0) is None  # a zero-size chunk would end the body


def test_content_length_region_is_counted() -> None:
    connection = answering(GET_11, [(b"Content-Length", b"10")])
    assert connection.send_file_region(4) == (b"", b"")
    assert connection.send(Data(b"xy")) == b"xy"
    with pytest.raises(LocalProtocolError, match="more body data"):
        connection.send_file_region(5)
    assert connection.our_state is State.ERROR


def test_content_length_short_by_a_region_is_refused_at_the_end() -> None:
    connection = answering(GET_11, [(b"Content-Length", b"10")])
    connection.send_file_region(9)
    with pytest.raises(LocalProtocolError, match="less body data"):
        connection.send(EndOfMessage())


def test_close_delimited_region_goes_as_it_is() -> None:
    connection = answering(GET_10, [])
    assert connection.send_file_region(7) == (b"", b"")


def test_head_and_bodiless_statuses_send_nothing() -> None:
    connection = answering(HEAD_11, [(b"Content-Length", b"100")])
    assert connection.send_file_region(100) is None
    connection = answering(GET_11, [], status=304)
    assert connection.send_file_region(0) is None
    with pytest.raises(LocalProtocolError, match="204 or 304"):
        connection.send_file_region(1)


def test_a_region_outside_a_body_or_of_a_bad_size_is_refused() -> None:
    connection = Connection()
    connection.receive_data(GET_11)
    connection.next_event()
    with pytest.raises(LocalProtocolError, match="state SEND_RESPONSE"):
        connection.send_file_region(1)
    connection = answering(GET_11, [])
    for size in (-1, 1.5, True):
        with pytest.raises(LocalProtocolError, match="size"):
            connection.send_file_region(size)  # type: ignore[arg-type]


@st.composite
def bodies(draw: st.DrawFn) -> tuple[list[tuple[bool, bytes]], bytes, list[tuple[bytes, bytes]]]:
    """Pieces of a body, each ``(as a region?, bytes)``; the request; the response fields."""
    pieces = draw(st.lists(st.tuples(st.booleans(), st.binary(max_size=40)), max_size=8))
    request = draw(st.sampled_from([GET_11, GET_10, HEAD_11]))
    fields: list[tuple[bytes, bytes]] = []
    if draw(st.booleans()):
        size = sum(len(data) for _, data in pieces)
        fields.append((b"Content-Length", b"%d" % size))
    return pieces, request, fields


@settings(max_examples=300, deadline=None)
@given(bodies())
def test_regions_put_the_same_bytes_on_the_wire_as_data(
    body: tuple[list[tuple[bool, bytes]], bytes, list[tuple[bytes, bytes]]],
) -> None:
    pieces, request, fields = body
    as_data = answering(request, fields)
    expected = b"".join(as_data.send(Data(data)) for _, data in pieces)
    expected += as_data.send(EndOfMessage())
    mixed = answering(request, fields)
    wire = b""
    for is_region, data in pieces:
        if not is_region:
            wire += mixed.send(Data(data))
            continue
        framing = mixed.send_file_region(len(data))
        if framing is not None:  # else the glue writes nothing (HEAD, empty)
            wire += framing[0] + data + framing[1]
    wire += mixed.send(EndOfMessage())
    assert wire == expected
    assert (mixed.our_state, mixed.must_close) == (as_data.our_state, as_data.must_close)


# -- the value ------------------------------------------------------------------------


def test_file_region_checks_its_fields(tmp_path: pathlib.Path) -> None:
    with pytest.raises(TypeError, match="open binary file or a descriptor"):
        FileRegion("path.txt", 0, 1)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="offset"):
        FileRegion(0, -1, 1)
    with pytest.raises(ValueError, match="count"):
        FileRegion(0, 0, 1.0)  # type: ignore[arg-type]
    with (tmp_path / "f").open("wb") as file:
        assert FileRegion(file, 0, 0).count == 0


# -- the server -----------------------------------------------------------------------


@pytest.fixture
def data_file(tmp_path: pathlib.Path) -> pathlib.Path:
    path = tmp_path / "data.bin"
    path.write_bytes(os.urandom(3 * 1024 * 1024 + 5))
    return path


@pytest.fixture
def contents(data_file: pathlib.Path) -> bytes:
    return data_file.read_bytes()


@pytest.fixture
def big_file(tmp_path: pathlib.Path) -> pathlib.Path:
    path = tmp_path / "big.bin"
    path.write_bytes(os.urandom(1024 * 1024) * 64)
    return path


class Files(Component):
    """``/mixed``: bytes, a region of a file object, bytes, a region of a descriptor.
    ``/length``: the same with a Content-Length. ``/sync``: a plain iterator.
    ``/short``: a region past the end of the file. ``/whole``: the whole file.
    ``/chunks``: the whole file as bytes."""

    channel = "web"

    def __init__(self, path: pathlib.Path) -> None:
        super().__init__()
        self.path = path

    def request(self, request: Request, response: Response) -> Any:
        if request.path == "/length":
            response.headers["Content-Length"] = str(3 + 1000 + 3 + 2000)
        if request.path == "/sync":
            return self.sync_parts()
        if request.path == "/short":
            return self.regions([(0, self.path.stat().st_size + 10)])
        if request.path == "/whole":
            return self.regions([(0, self.path.stat().st_size)])
        if request.path == "/chunks":
            return self.chunks()
        return self.parts()

    @handler(False)
    async def chunks(self) -> AsyncIterator[bytes]:
        with self.path.open("rb") as file:
            while data := file.read(256 * 1024):
                yield data

    @handler(False)
    async def parts(self) -> AsyncIterator[bytes | FileRegion]:
        with self.path.open("rb") as file:
            yield b"<<<"
            yield FileRegion(file, 10, 1000)
            yield b">>>"
            descriptor = os.open(self.path, os.O_RDONLY)
            try:
                yield FileRegion(descriptor, 5000, 2000)
            finally:
                os.close(descriptor)

    @handler(False)
    def sync_parts(self) -> Iterator[bytes | FileRegion]:
        with self.path.open("rb") as file:
            yield b"["
            yield FileRegion(file, 0, 100)
            yield b"]"

    @handler(False)
    async def regions(self, spans: list[tuple[int, int]]) -> AsyncIterator[FileRegion]:
        with self.path.open("rb") as file:
            for offset, count in spans:
                yield FileRegion(file, offset, count)


def expected_mixed(data: bytes) -> bytes:
    return b"<<<" + data[10:1010] + b">>>" + data[5000:7000]


async def test_regions_on_the_memory_transport_are_read_and_written(
    data_file: pathlib.Path, contents: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    transport = MemoryTransport(channel="web")
    server = BaseServer(transport=transport) + Files(data_file)
    async with server:
        client = Client(transport, timeout=20)  # generous: CI machines are shared
        response = await client.get("/mixed")
        assert response.headers["transfer-encoding"] == "chunked"
        assert response.body == expected_mixed(contents)
        response = await client.get("/length")
        assert response.headers["content-length"] == "3006"
        assert response.body == expected_mixed(contents)
        response = await client.get("/sync")
        assert response.body == b"[" + contents[:100] + b"]"
        response = await client.get("/whole")
        assert response.body == contents
        response = await client.request("HEAD", "/length")
        assert (response.headers["content-length"], response.body) == ("3006", b"")
        client.send(b"GET /short HTTP/1.1\r\nHost: t\r\n\r\n")
        await client.wait_closed()
    assert "the file is shorter" in caplog.text or "it shrank" in caplog.text


async def http_get(port: int, path: str) -> tuple[bytes, bytes]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"GET {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n".encode())
    data = await asyncio.wait_for(reader.read(), 10)
    writer.close()
    head, _, body = data.partition(b"\r\n\r\n")
    return head, body


def dechunk(body: bytes) -> bytes:
    out = b""
    while True:
        size_line, _, body = body.partition(b"\r\n")
        size = int(size_line, 16)
        if not size:
            return out
        out, body = out + body[:size], body[size + 2 :]


@pytest.mark.integration
async def test_regions_go_through_sendfile_on_tcp(
    data_file: pathlib.Path,
    contents: bytes,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Zero-copy: the bytes leave through ``os.sendfile`` (a slice at a time), never pread."""
    monkeypatch.setattr(relays_http._files, "SENDFILE_SLICE", 1024 * 1024)
    sent: list[int] = []
    real_sendfile = os.sendfile

    def counting(out_fd: int, in_fd: int, offset: int | None, count: int) -> int:
        done = real_sendfile(out_fd, in_fd, offset, count)
        sent.append(done)
        return done

    def no_pread(*args: Any) -> bytes:
        raise AssertionError("a region was read into memory on plain TCP")

    monkeypatch.setattr(os, "sendfile", counting)
    monkeypatch.setattr(os, "pread", no_pread)
    server = Server("tcp://127.0.0.1:0") + Files(data_file)
    async with server:
        _, port = await server.wait_ready()
        _, body = await http_get(port, "/mixed")
        assert dechunk(body) == expected_mixed(contents)
        assert sum(sent) == 3000
        sent.clear()
        _, body = await http_get(port, "/whole")
        assert hashlib.sha256(dechunk(body)).digest() == hashlib.sha256(contents).digest()
        assert sum(sent) == len(contents)
        head, body = await http_get(port, "/short")  # the file ends before the region
        assert head.startswith(b"HTTP/1.1 200")
        assert not body.endswith(b"0\r\n\r\n")  # cut short: the client sees it incomplete
    assert "bytes after the end of its file" in caplog.text


@pytest.mark.integration
@pytest.mark.parametrize("path", ["/whole", "/chunks"])
async def test_an_aborted_download_logs_nothing(
    big_file: pathlib.Path, caplog: pytest.LogCaptureFixture, path: str
) -> None:
    """A client that goes away mid-body is no error: no traceback, no "never retrieved"."""
    server = Server("tcp://127.0.0.1:0") + Files(big_file)
    caplog.set_level(logging.DEBUG)
    async with server:
        await server.wait_ready()
        for _ in range(3):
            reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
            writer.write(f"GET {path} HTTP/1.1\r\nHost: t\r\n\r\n".encode())
            await reader.readexactly(100_000)
            writer.transport.abort()  # a reset, as curl --max-time does
            await asyncio.sleep(0.1)
        for _ in range(500):  # until the server has seen the resets
            if not server.http.connections:
                break
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.1)
        gc.collect()  # "Task exception was never retrieved" is logged on collection
        await asyncio.sleep(0)
    errors = [record for record in caplog.records if record.levelno >= logging.WARNING]
    assert errors == [], [record.getMessage() for record in errors]


async def test_a_loop_without_sendfile_falls_back_to_reading(
    data_file: pathlib.Path, contents: bytes
) -> None:
    """uvloop's ``loop.sendfile`` raises NotImplementedError: the region is read instead."""

    class Handle:
        def __init__(self) -> None:
            self.data = bytearray()
            self.drains = 0

        def write(self, data: bytes) -> None:
            self.data += data

        async def drain(self) -> None:
            self.drains += 1

        async def sendfile(self, file: Any, offset: int, count: int) -> int:
            raise NotImplementedError

    handle = Handle()
    descriptor = os.open(data_file, os.O_RDONLY)
    try:
        await write_region(handle, FileRegion(descriptor, 7, 600_000), handle.drain)
    finally:
        os.close(descriptor)
    assert handle.data == contents[7:600_007]
    assert handle.drains == 3  # one per REGION_READ_SIZE read


@pytest.fixture
def tls_files(tmp_path: pathlib.Path) -> tuple[str, ssl.SSLContext]:
    ca = trustme.CA()
    certfile = tmp_path / "server.pem"
    ca.issue_cert("127.0.0.1").private_key_and_cert_chain_pem.write_to_path(str(certfile))
    client_context = ssl.create_default_context()
    ca.configure_trust(client_context)
    return str(certfile), client_context


@pytest.mark.integration
async def test_regions_over_tls_are_encrypted_by_asyncio(
    data_file: pathlib.Path, contents: bytes, tls_files: tuple[str, ssl.SSLContext]
) -> None:
    """No kernel sendfile through TLS: asyncio reads the file and writes it encrypted."""
    certfile, client_context = tls_files
    server = Server("tls://127.0.0.1:0", certfile=certfile) + Files(data_file)
    async with server:
        _, port = await server.wait_ready()
        reader, writer = await asyncio.open_connection("127.0.0.1", port, ssl=client_context)
        writer.write(b"GET /mixed HTTP/1.1\r\nHost: t\r\n\r\nGET /whole HTTP/1.1\r\nHost: t\r\n")
        writer.write(b"Connection: close\r\n\r\n")
        data = await asyncio.wait_for(reader.read(), 20)
        writer.close()
    first, _, second = data.partition(b"0\r\n\r\nHTTP/1.1 200 OK\r\n")
    assert dechunk(first.partition(b"\r\n\r\n")[2] + b"0\r\n\r\n") == expected_mixed(contents)
    assert dechunk(second.partition(b"\r\n\r\n")[2]) == contents
