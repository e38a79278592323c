"""relays_http.testing: the in-memory client and the response parser."""

from __future__ import annotations

from typing import Any

import h11
import pytest
from hypothesis import given
from hypothesis import strategies as st

from relays import Component
from relays.testing import MemoryTransport
from relays_http import BaseServer, Request, Response
from relays_http.testing import Client, IncompleteResponse, parse_responses


class Echo(Component):
    channel = "web"

    def request(self, request: Request, response: Response) -> Any:
        if request.path == "/stream":
            return iter([b"a", b"b"])
        if request.path == "/close":
            response.headers["Connection"] = "close"
        return {
            "method": request.method,
            "path": request.path,
            "body": request.content.decode(),
            "host": request.host,
            "remote": list(request.remote),
        }


@pytest.fixture
def echo() -> tuple[BaseServer, MemoryTransport]:
    transport = MemoryTransport(channel="web")
    return BaseServer(transport=transport) + Echo(), transport


async def test_requests_and_responses(echo: tuple[BaseServer, MemoryTransport]) -> None:
    server, transport = echo
    async with server:
        client = Client(transport, peer=("10.1.2.3", 5555))
        response = await client.get("/a%20b")
        assert response.status == 200
        assert response.reason == "OK"
        assert response.headers["content-type"].startswith("application/json")
        assert response.json() == {
            "method": "GET",
            "path": "/a b",
            "body": "",
            "host": "test",
            "remote": ["10.1.2.3", 5555],
        }
        status, headers, body = await client.post("/p", b"data", headers={"Host": "other"})
        assert (status, headers["Content-Length"], b'"host":"other"' in body) == (
            200,
            str(len(body)),
            True,
        )
        assert (await client.post("/p", [b"chunk", b"ed"])).json()["body"] == "chunked"
        streamed = await client.get("/stream")
        assert (streamed.headers["transfer-encoding"], streamed.text) == ("chunked", "ab")
        head = await client.request("HEAD", "/stream")
        assert (head.status, head.body) == (200, b"")


async def test_pipelined_requests_and_closing(echo: tuple[BaseServer, MemoryTransport]) -> None:
    server, transport = echo
    async with server:
        client = Client(transport)
        for path in ("/1", "/2", "/3"):
            client.send_request("GET", path)
        assert [r.json()["path"] for r in await client.responses(3)] == ["/1", "/2", "/3"]
        client.send(b"GET /raw HTTP/1.1\r\nHost: x\r\n\r\n")
        assert (await client.response()).json()["path"] == "/raw"
        await client.get("/close")
        assert await client.wait_closed() == b""
        assert client.closed
        with pytest.raises(IncompleteResponse):
            await client.response()


async def test_interim_responses_are_kept_apart(echo: tuple[BaseServer, MemoryTransport]) -> None:
    server, transport = echo
    async with server:
        client = Client(transport)
        client.send(
            b"POST /c HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nExpect: 100-continue\r\n\r\n"
        )
        await client.connection.wait()
        client.send(b"ok")
        assert (await client.response()).json()["body"] == "ok"
        assert [r.status for r in client.interim] == [100]


def test_parse_responses_of_every_framing() -> None:
    data = (
        b"HTTP/1.1 100 Continue\r\n\r\n"
        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi"
        b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n"  # the answer to HEAD
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"2;x=y\r\nab\r\n1\r\nc\r\n0\r\nX-Sum: 3\r\n\r\n"
        b"HTTP/1.1 304 Not Modified\r\nContent-Length: 9\r\n\r\n"
        b"HTTP/1.0 200 OK\r\n\r\nuntil the end"
    )
    responses = parse_responses(data, ["GET", "HEAD", "GET", "GET", "GET"])
    assert [(r.status, r.body) for r in responses] == [
        (100, b""),
        (200, b"hi"),
        (200, b""),
        (200, b"abc"),
        (304, b""),
        (200, b"until the end"),
    ]
    assert responses[3].trailers["x-sum"] == "3"
    assert responses[5].http_version == "1.0"


@pytest.mark.parametrize(
    "data",
    [
        b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhi",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab",
        b"HTTP/1.1 200 OK\r\nContent-",
    ],
)
def test_truncated_responses_are_reported(data: bytes) -> None:
    with pytest.raises(IncompleteResponse):
        parse_responses(data)


def test_garbage_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="status line"):
        parse_responses(b"SSH-2.0-OpenSSH\r\n\r\n")


_token = st.text("abcdefghijklmnopqrstuvwxyz-", min_size=1, max_size=10)


@given(
    status=st.sampled_from([200, 201, 404, 500]),
    fields=st.lists(st.tuples(_token, _token), max_size=4),
    body=st.binary(max_size=64),
    chunks=st.lists(st.binary(min_size=1, max_size=16), max_size=4),
    chunked=st.booleans(),
)
def test_responses_written_by_h11_parse_back(
    status: int, fields: list[tuple[str, str]], body: bytes, chunks: list[bytes], chunked: bool
) -> None:
    """h11 as the oracle: what it writes, we read back the same."""
    server = h11.Connection(h11.SERVER)
    server.receive_data(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    server.next_event()
    fields = [("x-" + name, value) for name, value in fields]
    if chunked:
        head = [*fields, ("Transfer-Encoding", "chunked")]
        data = server.send(h11.Response(status_code=status, headers=head)) or b""
        for chunk in chunks:
            data += server.send(h11.Data(data=chunk)) or b""
        expected = b"".join(chunks)
    else:
        head = [*fields, ("Content-Length", str(len(body)))]
        data = server.send(h11.Response(status_code=status, headers=head)) or b""
        data += server.send(h11.Data(data=body)) or b"" if body else b""
        expected = body
    data += server.send(h11.EndOfMessage()) or b""
    (response,) = parse_responses(data)
    assert (response.status, response.body) == (status, expected)
    assert [(name.lower(), value) for name, value in fields] == [
        (name.lower(), value)
        for name, value in response.headers.allitems()
        if name.lower().startswith("x-")
    ]
