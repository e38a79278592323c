"""The Client component: request events in, response events out, in any tree."""

from __future__ import annotations

import socket
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from scripted import ReceivedRequest, reply

from relays import Component
from relays.testing import Recorder
from relays_http.client import (
    Client,
    ClientRequest,
    ConnectError,
    RequestFailed,
    Response,
    Timeouts,
)

Serve = Callable[..., Any]
TUTORIAL = Path(__file__).parents[4] / "examples" / "tutorial" / "http_client.py"


class Tree(Component):
    def __init__(self) -> None:
        super().__init__()
        self.client = Client(headers={"X-From": "tree"}, timeouts=Timeouts(read=5)).register(self)
        self.recorder = Recorder().register(self)


@pytest.fixture
def tree() -> Tree:
    return Tree()


def echo(request: ReceivedRequest) -> bytes:
    body = f"{request.method} {request.target} {request.headers.get('x-from')} ".encode()
    return reply(body + request.body)


async def test_a_request_event_gets_a_response_event(serve: Serve, tree: Tree) -> None:
    async with serve(echo) as server:
        tree.fire(ClientRequest("POST", server.url("/x"), {"X-Extra": "1"}, b"body"), "client")
        (event,) = await tree.recorder.until("response")
    response = event.args[0]
    assert isinstance(response, Response)
    assert response.content == b"POST /x tree body"
    assert event.channels == ("client",)
    assert server.requests[0].headers["x-extra"] == "1"


async def test_call_returns_the_response_and_the_pool_is_shared(serve: Serve, tree: Tree) -> None:
    async with serve(echo) as server:
        first = await tree.call(ClientRequest("GET", server.url("/a")), "client")
        second = await tree.call(
            ClientRequest("GET", server.url("/b"), params={"q": "1"}), "client"
        )
    assert first.content == b"GET /a tree "
    assert second.content == b"GET /b?q=1 tree "
    assert server.connections == 1


async def test_a_failure_fires_request_failed(tree: Tree) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{probe.getsockname()[1]}/"
        with pytest.raises(ConnectError):
            await tree.call(ClientRequest("GET", url), "client")
    (event,) = await tree.recorder.until("request_failed")
    assert isinstance(event, RequestFailed)
    method, failed_url, error = event.args
    assert (method, failed_url) == ("GET", url)
    assert isinstance(error, ConnectError)


async def test_the_session_closes_when_the_tree_stops(serve: Serve) -> None:
    tree = Tree()
    async with serve(echo) as server:
        async with tree:
            await tree.call(ClientRequest("GET", server.url()), "client")
            pool = tree.client.session.pool
            assert pool.open_connections == 1
        assert pool.open_connections == 0


@pytest.mark.integration
def test_the_tutorial_program() -> None:
    result = subprocess.run(
        [sys.executable, "-W", "error", str(TUTORIAL)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == "200 application/json\nThe sky over Lyon is clear.\n"
    assert result.stderr == ""
