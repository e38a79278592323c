"""Response trailers: a streamed body's last ``Trailers`` goes out after the last chunk.

At the protocol core (what the server writes, parsed by the client core in any
split), through the server (``TE: trailers`` respected, dropped where the framing
cannot carry them) and on loopback with curl.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from relays import Component
from relays_http import Request, Response, Server, Trailers
from relays_http._protocol import (
    NEED_DATA,
    Connection,
    Data,
    EndOfMessage,
    LocalProtocolError,
)
from relays_http._protocol import Response as ProtocolResponse
from relays_http._protocol._client import ClientConnection, ResponseHead
from relays_http.testing import Client, memory_server, serve_in_thread

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

TOKEN = rb"[-!#$%&'*+.^_`|~0-9A-Za-z]"
FRAMING = {b"content-length", b"transfer-encoding", b"host", b"connection", b"trailer"}
names = st.from_regex(TOKEN + rb"{1,12}", fullmatch=True).filter(
    lambda name: name.lower() not in FRAMING
)
values = st.from_regex(rb"([!-~]([ !-~]{0,10}[!-~])?)?", fullmatch=True)
fields = st.lists(st.tuples(names, values), min_size=1, max_size=5)
chunks = st.lists(st.binary(min_size=0, max_size=40), max_size=5)


def served(body: list[bytes], trailers: list[tuple[bytes, bytes]]) -> bytes:
    """What the server core writes for a chunked response with *trailers*."""
    server = Connection()
    server.receive_data(b"GET / HTTP/1.1\r\nHost: a\r\nTE: trailers\r\n\r\n")
    server.next_event()
    server.next_event()
    names = b", ".join(name for name, _ in trailers)
    data = server.send(ProtocolResponse(200, [(b"Trailer", names)]))
    assert server.sends_trailers
    for chunk in body:
        data += server.send(Data(chunk))
    return data + server.send(EndOfMessage(trailers))


def parsed(data: bytes, splits: list[int]) -> tuple[bytes, list[tuple[bytes, bytes]], bytes]:
    """The body, trailers and bytes left over that the client core reads from *data*."""
    client = ClientConnection()
    client.start_request(b"GET", b"/", [(b"Host", b"a"), (b"TE", b"trailers")])
    client.end_request()
    cuts = sorted({cut for cut in splits if 0 < cut < len(data)})
    pieces = [data[start:end] for start, end in zip([0, *cuts], [*cuts, len(data)], strict=True)]
    body = b""
    trailers: list[tuple[bytes, bytes]] | None = None
    for piece in pieces:
        client.receive_data(piece)
        while trailers is None:
            event = client.next_event()
            if event is NEED_DATA:
                break
            if isinstance(event, Data):
                body += event.data
            elif isinstance(event, EndOfMessage):
                trailers = [(bytes(name), bytes(value)) for name, value in event.trailers]
            else:
                assert isinstance(event, ResponseHead)
    assert trailers is not None, "the response did not end"
    left, _ = client.trailing_data
    return body, trailers, left


@SETTINGS
@given(body=chunks, trailers=fields, splits=st.lists(st.integers(0, 400), max_size=8))
def test_any_split_of_what_the_server_writes_parses_to_its_trailers(
    body: list[bytes], trailers: list[tuple[bytes, bytes]], splits: list[int]
) -> None:
    data = served(body, trailers)
    got_body, got_trailers, left = parsed(data, splits)
    assert got_body == b"".join(body)
    assert got_trailers == [(name.lower(), value) for name, value in trailers]
    assert left == b""


@SETTINGS
@given(trailers=fields, extra=st.binary(min_size=1, max_size=30))
def test_bytes_after_the_trailer_section_are_left_for_the_next_response(
    trailers: list[tuple[bytes, bytes]], extra: bytes
) -> None:
    _, got, left = parsed(served([b"x"], trailers) + extra, [])
    assert got == [(name.lower(), value) for name, value in trailers]
    assert left == extra


@pytest.mark.parametrize("name", [b"Content-Length", b"Transfer-Encoding", b"Trailer"])
def test_a_framing_field_in_trailers_is_refused(name: bytes) -> None:
    with pytest.raises(LocalProtocolError, match="trailer section"):
        served([b"x"], [(name, b"1")])


def test_only_a_chunked_body_sends_trailers() -> None:
    server = Connection()
    server.receive_data(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n")
    server.next_event()
    server.next_event()
    server.send(ProtocolResponse(200, [(b"Content-Length", b"1")]))
    assert not server.sends_trailers


# -- through the server ----------------------------------------------------------------


async def checksummed(last: Any = None) -> AsyncIterator[Any]:
    yield b"one,"
    yield b"two"
    yield Trailers({"X-Checksum": "abc", "Server-Timing": "total;dur=1"})
    if last is not None:
        yield last


class Streams(Component):
    channel = "web"

    def request(self, request: Request, response: Response) -> Any:
        response.headers["Trailer"] = "X-Checksum, Server-Timing"
        if request.path == "/length":
            response.headers["Content-Length"] = "7"
        if request.path == "/after":
            return checksummed(b"late")
        return checksummed()


async def test_a_client_that_asks_for_trailers_gets_them_after_the_last_chunk() -> None:
    server, transport = memory_server(Streams())
    async with server:
        response = await Client(transport).get("/", headers={"TE": "trailers"})
    assert response.status == 200
    assert response.headers["trailer"] == "X-Checksum, Server-Timing"
    assert response.body == b"one,two"
    assert response.trailers.allitems() == [
        ("X-Checksum", "abc"),
        ("Server-Timing", "total;dur=1"),
    ]


@pytest.mark.parametrize(
    ("target", "headers"),
    [
        ("/", {}),  # did not ask
        ("/", {"TE": "gzip"}),
        ("/length", {"TE": "trailers"}),  # a Content-Length body cannot carry them
    ],
)
async def test_trailers_are_dropped_where_they_cannot_or_may_not_go(
    target: str, headers: dict[str, str]
) -> None:
    server, transport = memory_server(Streams())
    async with server:
        client = Client(transport)
        response = await client.get(target, headers=headers)
        assert (response.status, response.body) == (200, b"one,two")
        assert response.trailers.allitems() == []
        assert (await client.get("/")).status == 200  # the connection goes on


async def test_anything_yielded_after_the_trailers_cuts_the_response_short(
    caplog: pytest.LogCaptureFixture,
) -> None:
    server, transport = memory_server(Streams())
    async with server:
        client = Client(transport)
        client.send(b"GET /after HTTP/1.1\r\nHost: t\r\nTE: trailers\r\n\r\n")
        data = await client.wait_closed()
    assert b"one," in data
    assert not data.endswith(b"0\r\n\r\n")
    assert "after its Trailers" in caplog.text


# -- curl on loopback ------------------------------------------------------------------


@pytest.fixture
def tcp_server() -> Iterator[Server]:
    with serve_in_thread(Server("tcp://127.0.0.1:0") + Streams()) as running:
        assert isinstance(running, Server)
        yield running


@pytest.mark.integration
@pytest.mark.skipif(
    shutil.which("curl") is None, reason="curl is not installed (apt-get install curl)"
)
def test_curl_raw_shows_the_trailer_section(tcp_server: Server) -> None:
    url = f"http://127.0.0.1:{tcp_server.port}/"
    shown = subprocess.run(
        ["curl", "-sS", "--raw", "--max-time", "5", "-H", "TE: trailers", url],
        capture_output=True,
        check=True,
    ).stdout
    assert shown.endswith(b"0\r\nX-Checksum: abc\r\nServer-Timing: total;dur=1\r\n\r\n")
    plain = subprocess.run(
        ["curl", "-sS", "--raw", "--max-time", "5", url], capture_output=True, check=True
    ).stdout
    assert plain.endswith(b"two\r\n0\r\n\r\n")
