"""The header fields relays writes itself are spelled in lower case, in every kind of answer."""

from __future__ import annotations

from typing import Any

import pytest

from relays import Component
from relays_http import NotFound, Request, Response
from relays_http.testing import Client, memory_server


class Answers(Component):
    channel = "web"

    def request(self, request: Request, response: Response) -> Any:
        path = request.path
        if path == "/text":
            response.set_cookie("a", "1")
            return "hello"
        if path == "/typed":
            return Response("x", content_type="text/plain")
        if path == "/error":
            raise NotFound()
        if path == "/crash":
            raise RuntimeError("boom")
        if path == "/stream":
            return iter([b"a", b"b"])
        return {"json": True}


@pytest.mark.parametrize("path", ["/text", "/typed", "/error", "/crash", "/stream", "/json"])
async def test_every_field_relays_writes_is_lower_case(path: str) -> None:
    server, transport = memory_server(Answers())
    async with server:
        client = Client(transport)
        client.send(b"GET %s HTTP/1.1\r\nHost: a\r\n\r\n" % path.encode())
        raw = await client.connection.wait(lambda data: b"\r\n\r\n" in data)
    head = raw.partition(b"\r\n\r\n")[0].split(b"\r\n")[1:]
    names = [line.partition(b":")[0] for line in head]
    assert names, raw
    assert all(name == name.lower() for name in names), names
