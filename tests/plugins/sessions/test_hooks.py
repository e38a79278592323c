"""Sessions on relays-http's before_request / before_response hooks: no second request."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from relays import Component, Event, handler
from relays.testing import MemoryTransport
from relays_http import BaseServer, Request, Response
from relays_sessions import Sessions, session_of

AccessLog = pytest.importorskip("relays_logging").AccessLog

SECRET = "test-secret-0123456789abcdef"


class Counter(Component):
    channel = "web"

    def request(self, request: Request, response: Response) -> Any:
        session = session_of(request)
        session["count"] = session.get("count", 0) + 1
        return str(session["count"]) + ("!" if session.get("flashed") else "")


class Early(Component):
    """A handler above Sessions' priority: it used to see every request twice."""

    channel = "web"

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[str] = []

    @handler("request", priority=100_000)
    def _note(self, event: Event, request: Request, response: Response) -> None:
        self.seen.append(request.path)


class Flash(Component):
    """Changes the session in before_response: Sessions saves after it."""

    channel = "web"

    @handler("before_response")
    def _flash(self, request: Request, response: Response, result: Any) -> None:
        if request.session is not None:
            request.session["flashed"] = True


async def get(client: Any, cookie: str = "") -> bytes:
    extra = f"Cookie: {cookie}\r\n" if cookie else ""
    client.send(f"GET / HTTP/1.1\r\nHost: x\r\n{extra}\r\n".encode())
    await client.wait(lambda data: b"\r\n\r\n" in data and data.endswith((b"1", b"2!")))
    return bytes(client.take())


def cookie_of(data: bytes) -> str:
    for line in data.split(b"\r\n"):
        if line.lower().startswith(b"set-cookie: session="):
            return line.split(b": ", 1)[1].split(b";")[0].decode()
    raise AssertionError(data)


async def test_each_request_is_seen_once(caplog: pytest.LogCaptureFixture) -> None:
    transport = MemoryTransport(channel="web")
    early = Early()
    server = BaseServer(transport=transport) + Sessions(secret=SECRET) + Counter() + early
    server += Flash()
    server += AccessLog()
    async with server:
        client = transport.connect()
        with caplog.at_level(logging.INFO, logger="relays.access"):
            first = await get(client)
            second = await get(client, cookie_of(first))
    assert second.endswith(b"2!")  # saved after Flash's before_response ran
    assert early.seen == ["/", "/"]
    access = [record for record in caplog.records if record.name == "relays.access"]
    assert len(access) == 2
