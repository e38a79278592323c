"""The header fields relays-http writes itself are spelled in lower case, on the wire.

HTTP/1.1 field names are case-insensitive and HTTP/2 requires lower case, so every field the
server writes is lower case, as h11 writes them, and one response never mixes ``Allow`` with
``content-type``. Other tests read fields through the case-insensitive headers object; these
pin the bytes written by the error pages, the controllers and the test client.
"""

from __future__ import annotations

import re

from relays import Component
from relays_http import Controller, JSONController, MethodNotAllowed, Redirect, Request, Response
from relays_http._dispatcher import Dispatcher
from relays_http.testing import Client, memory_server

#: A field name of a response head, as written.
FIELD_NAME = re.compile(rb"\r\n([^:\r\n]+):")


def field_names(data: bytes) -> list[bytes]:
    head = data.split(b"\r\n\r\n", 1)[0]
    return FIELD_NAME.findall(head)


class Errors(Component):
    channel = "web"

    def request(self, request: Request, response: Response) -> None:
        if request.path == "/moved":
            raise Redirect("/there")
        raise MethodNotAllowed(["GET", "HEAD"])


class Pages(Controller):
    def index(self) -> str:
        return "index"


class Api(JSONController):
    channel = "/api"

    def index(self) -> dict[str, int]:
        return {"answer": 42}


async def exchange(server_apps: tuple[Component, ...], request: bytes) -> bytes:
    server, transport = memory_server(*server_apps)
    async with server:
        client = transport.connect()
        client.send(request)
        return await client.wait(lambda data: b"\r\n\r\n" in data)


async def test_error_pages_write_lower_case_fields() -> None:
    moved = await exchange((Errors(),), b"GET /moved HTTP/1.1\r\nHost: x\r\n\r\n")
    assert b"\r\nlocation: /there\r\n" in moved
    refused = await exchange((Errors(),), b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    assert b"\r\nallow: GET, HEAD\r\n" in refused
    for data in (moved, refused):
        assert [name for name in field_names(data) if name != name.lower()] == []


async def test_controllers_write_lower_case_fields() -> None:
    apps = (Dispatcher(), Pages(), Api())
    options = await exchange(apps, b"OPTIONS / HTTP/1.1\r\nHost: x\r\n\r\n")
    assert b"\r\nallow: " in options
    api = await exchange(apps, b"GET /api HTTP/1.1\r\nHost: x\r\n\r\n")
    assert b"\r\ncontent-type: application/json\r\n" in api
    for data in (options, api):
        assert [name for name in field_names(data) if name != name.lower()] == []


def test_the_test_client_writes_lower_case_fields() -> None:
    _, transport = memory_server()
    client = Client(transport)
    request = client.encode_request("POST", "/", body=b"data")
    assert field_names(request) == [b"host", b"content-length"]
    streamed = client.encode_request("POST", "/", body=iter([b"data"]))
    assert field_names(streamed) == [b"host", b"transfer-encoding"]
