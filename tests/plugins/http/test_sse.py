"""Server-sent events: framing, keep-alive comments, Last-Event-ID, and a client that
leaves; curl reads a stream on a real socket."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from relays import Component
from relays_http import (
    BaseServer,
    Request,
    Response,
    Server,
    ServerSentEvent,
    event_stream,
    last_event_id,
)
from relays_http.testing import Client, memory_server, serve_in_thread


def test_events_are_framed() -> None:
    assert ServerSentEvent("hi").encode() == b"data: hi\n\n"
    assert ServerSentEvent("a\nb\r\nc", event="note", id="7", retry=500).encode() == (
        b"event: note\nid: 7\nretry: 500\ndata: a\ndata: b\ndata: c\n\n"
    )
    assert ServerSentEvent("").encode() == b"data:\n\n"


@pytest.mark.parametrize(
    "event",
    [
        ServerSentEvent("x", id="1\n2"),
        ServerSentEvent("x", event="a\rb"),
        ServerSentEvent("x", retry=-1),
    ],
)
def test_unsafe_fields_are_refused(event: ServerSentEvent) -> None:
    with pytest.raises(ValueError, match=r"one line|milliseconds"):
        event.encode()


def parse_stream(data: bytes) -> list[dict[str, str]]:
    """Events as a browser reads them (the WHATWG algorithm, without reconnection)."""
    events: list[dict[str, str]] = []
    fields: dict[str, list[str]] = {}
    for line in data.decode().split("\n"):
        if not line:
            if "data" in fields:
                events.append({name: "\n".join(values) for name, values in fields.items()})
            fields = {}
            continue
        if line.startswith(":"):
            continue
        name, _, value = line.partition(":")
        fields.setdefault(name, []).append(value.removeprefix(" "))
    return events


@given(st.text(alphabet=st.characters(exclude_categories=["Cs"])), st.text("abc0123", max_size=5))
def test_any_data_reads_back_as_sent(data: str, event_id: str) -> None:
    encoded = ServerSentEvent(data, id=event_id).encode()
    expected = data.replace("\r\n", "\n").replace("\r", "\n")
    assert parse_stream(encoded) == [{"id": event_id, "data": expected}]


class Feed(Component):
    channel = "web"

    def __init__(self) -> None:
        super().__init__()
        self.go_on = asyncio.Event()
        self.closed = asyncio.Event()

    def request(self, request: Request, response: Response) -> Any:
        if request.path == "/list":
            return event_stream(response, ["one", {"n": 2}, ServerSentEvent("3", id="3")])
        start = int(last_event_id(request) or 0)
        return event_stream(response, self.events(start), keep_alive=0.01, retry=2000)

    async def events(self, start: int) -> AsyncIterator[ServerSentEvent]:
        try:
            yield ServerSentEvent(f"event {start + 1}", id=str(start + 1))
            await self.go_on.wait()
            yield ServerSentEvent(f"event {start + 2}", id=str(start + 2), event="tick")
        finally:
            self.closed.set()


async def test_a_stream_of_values() -> None:
    server, transport = memory_server(Feed())
    async with server:
        response = await Client(transport).get("/list")
        assert response.headers["content-type"] == "text/event-stream; charset=utf-8"
        assert response.headers["cache-control"] == "no-cache"
        assert parse_stream(response.body) == [
            {"data": "one"},
            {"data": '{"n":2}'},
            {"data": "3", "id": "3"},
        ]


async def test_keep_alive_comments_while_waiting() -> None:
    feed = Feed()
    server, transport = memory_server(feed)
    async with server:
        client = Client(transport)
        client.send_request("GET", "/live", headers={"Last-Event-ID": "41"})
        received = b""
        while b": keep-alive\n\n" not in received:
            await client.connection.wait(timeout=5)
            received += client.connection.take()
        feed.go_on.set()
        while not received.endswith(b"\r\n0\r\n\r\n"):
            await client.connection.wait(timeout=5)
            received += client.connection.take()
        events = parse_stream(unchunk(received.partition(b"\r\n\r\n")[2]))
        assert events == [
            {"data": "event 42", "id": "42"},
            {"data": "event 43", "id": "43", "event": "tick"},
        ]


def unchunk(data: bytes) -> bytes:
    """The payload of a whole chunked body."""
    payload = b""
    while True:
        size_line, _, rest = data.partition(b"\r\n")
        size = int(size_line, 16)
        if size == 0:
            return payload
        payload += rest[:size]
        data = rest[size + 2 :]


async def test_the_source_is_closed_when_the_client_leaves() -> None:
    feed = Feed()
    server, transport = memory_server(feed)
    async with server:
        client = Client(transport)
        client.send_request("GET", "/live")
        received = b""
        while b"event 1" not in received:
            await client.connection.wait(timeout=5)
            received += client.connection.take()
        assert b"retry: 2000\n\n" in received
        client.close()
        await asyncio.wait_for(feed.closed.wait(), 5)


@pytest.fixture
def curl() -> str:
    path = shutil.which("curl")
    if path is None:
        pytest.skip("curl is not installed (apt-get install curl)")
    return path


@pytest.fixture
def live_server() -> Iterator[BaseServer]:
    with serve_in_thread(Server("tcp://127.0.0.1:0") + Feed()) as server:
        yield server


@pytest.mark.integration
def test_curl_reads_a_stream(curl: str, live_server: BaseServer) -> None:
    result = subprocess.run(
        [curl, "-sS", "-N", f"http://127.0.0.1:{live_server.port}/list"],
        capture_output=True,
        check=True,
        timeout=10,
    )
    assert [event["data"] for event in parse_stream(result.stdout)] == ["one", '{"n":2}', "3"]
