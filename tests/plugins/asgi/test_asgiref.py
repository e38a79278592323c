"""``application(tree)`` driven by asgiref's ``ApplicationCommunicator``, as a server would."""

from __future__ import annotations

import pytest
from asgi_scopes import http_scope

from relays import Component
from relays_asgi import application
from relays_http import Controller, Dispatcher

testing = pytest.importorskip("asgiref.testing")


class Root(Controller):
    def index(self) -> dict[str, str]:
        return {"hello": "asgiref"}

    async def upload(self) -> str:
        body = await self.request.read()
        return f"{len(body)} bytes"


async def test_lifespan_and_requests_through_the_communicator() -> None:
    app = application(Component() + Dispatcher() + Root())
    lifespan = testing.ApplicationCommunicator(app, {"type": "lifespan"})
    await lifespan.send_input({"type": "lifespan.startup"})
    assert await lifespan.receive_output(5) == {"type": "lifespan.startup.complete"}

    request = testing.ApplicationCommunicator(app, http_scope("GET", "/"))
    await request.send_input({"type": "http.request", "body": b""})
    start = await request.receive_output(5)
    assert start["status"] == 200
    assert (b"content-type", b"application/json") in start["headers"]
    assert (await request.receive_output(5))["body"] == b'{"hello":"asgiref"}'
    await request.wait(5)

    upload = testing.ApplicationCommunicator(app, http_scope("POST", "/upload"))
    await upload.send_input({"type": "http.request", "body": b"abc", "more_body": True})
    await upload.send_input({"type": "http.request", "body": b"def"})
    assert (await upload.receive_output(5))["status"] == 200
    assert (await upload.receive_output(5))["body"] == b"6 bytes"
    await upload.wait(5)

    await lifespan.send_input({"type": "lifespan.shutdown"})
    assert await lifespan.receive_output(5) == {"type": "lifespan.shutdown.complete"}
    await lifespan.wait(5)
    assert not app.tree.running
