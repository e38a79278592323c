"""A real Starlette app on relays: routes, a background task, streaming, a WebSocket, lifespan.

Driven by real clients: curl for HTTP, the ``websockets`` client for the WebSocket.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import subprocess
import threading
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, StreamingResponse
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket
from websockets.sync.client import connect

from relays_asgi import Asgi
from relays_http import Server
from relays_http.testing import serve_in_thread

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(shutil.which("curl") is None, reason="no curl installed (apt-get curl)"),
]

TIMEOUT = 10


class Site:
    """The Starlette app and what its background task and lifespan did."""

    def __init__(self) -> None:
        self.background_done = threading.Event()
        self.background_args: list[str] = []
        self.shut_down = threading.Event()
        self.app = Starlette(
            routes=[
                Route("/", self.home),
                Route("/users/{name}", self.user),
                Route("/signup", self.signup, methods=["POST"]),
                Route("/count", self.count),
                WebSocketRoute("/ws", self.echo),
            ],
            lifespan=self.lifespan,
        )

    @contextlib.asynccontextmanager
    async def lifespan(self, app: Starlette) -> AsyncIterator[dict[str, Any]]:
        yield {"started_by": "lifespan"}
        self.shut_down.set()

    async def home(self, request: Request) -> PlainTextResponse:
        return PlainTextResponse(f"home of {request.state.started_by}")

    async def user(self, request: Request) -> JSONResponse:
        return JSONResponse(
            {
                "name": request.path_params["name"],
                "url": str(request.url),
                "root_path": request.scope["root_path"],
                "client": request.client.host if request.client else None,
            }
        )

    async def signup(self, request: Request) -> JSONResponse:
        form = await request.form()
        email = str(form["email"])
        task = BackgroundTask(self.send_welcome, email)
        return JSONResponse({"queued": email}, background=task)

    async def send_welcome(self, email: str) -> None:
        self.background_args.append(email)
        self.background_done.set()

    async def count(self, request: Request) -> StreamingResponse:
        async def numbers() -> AsyncIterator[str]:
            for number in range(int(request.query_params.get("to", "5"))):
                yield f"{number}\n"

        return StreamingResponse(numbers(), media_type="text/plain")

    async def echo(self, websocket: WebSocket) -> None:
        await websocket.accept()
        async for text in websocket.iter_text():
            await websocket.send_text(f"starlette says {text}")


@contextlib.contextmanager
def serving(site: Site, path: str = "/") -> Iterator[str]:
    with serve_in_thread(Server("tcp://127.0.0.1:0") + Asgi(site.app, path)) as server:
        yield server.url.rstrip("/")


def curl(*arguments: str) -> str:
    done = subprocess.run(
        ["curl", "-sS", "--max-time", str(TIMEOUT), *arguments],
        capture_output=True,
        text=True,
        timeout=TIMEOUT + 5,
        check=True,
    )
    return done.stdout


def test_routes_lifespan_state_and_a_404() -> None:
    site = Site()
    with serving(site) as url:
        assert curl(url + "/") == "home of lifespan"
        answer = json.loads(curl(url + "/users/ann"))
        assert answer == {
            "name": "ann",
            "url": url + "/users/ann",
            "root_path": "",
            "client": "127.0.0.1",
        }
        assert curl("-o", "/dev/null", "-w", "%{http_code}", url + "/missing") == "404"
    assert site.shut_down.is_set()


def test_mounted_under_a_prefix_the_app_sees_its_root_path() -> None:
    site = Site()
    with serving(site, "/app") as url:
        answer = json.loads(curl(url + "/app/users/bob"))
        assert answer["url"] == url + "/app/users/bob"
        assert answer["root_path"] == "/app"


def test_a_background_task_runs_after_the_response() -> None:
    site = Site()
    with serving(site) as url:
        answer = json.loads(curl("--data", "email=ann@example.com", url + "/signup"))
        assert answer == {"queued": "ann@example.com"}
        assert site.background_done.wait(TIMEOUT)
    assert site.background_args == ["ann@example.com"]


def test_a_streaming_response_arrives_whole_and_chunked() -> None:
    site = Site()
    with serving(site) as url:
        head_and_body = curl("-i", url + "/count?to=1000")
    head, _, body = head_and_body.partition("\n\n")  # text mode: CRLF read as LF
    assert "transfer-encoding: chunked" in head.lower()
    assert body == "".join(f"{number}\n" for number in range(1000))


def test_a_websocket_route() -> None:
    site = Site()
    with (
        serving(site) as url,
        connect(url.replace("http://", "ws://") + "/ws", open_timeout=TIMEOUT) as client,
    ):
        for word in ("one", "two"):
            client.send(word)
            assert client.recv(TIMEOUT) == f"starlette says {word}"
