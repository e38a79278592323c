"""CORS: preflights answered, actual requests marked, origins refused; curl as the browser."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from typing import Any

import pytest

from relays import Component
from relays.testing import MemoryTransport
from relays_http import CORS, BaseServer, NotFound, Request, Response, Server
from relays_http.testing import Client, memory_server, serve_in_thread

APP = "https://app.example.com"


class Api(Component):
    channel = "web"

    def request(self, request: Request, response: Response) -> Any:
        if request.path == "/api/items":
            response.headers["X-Total"] = "2"
            return [1, 2]
        if request.path == "/api/missing":
            raise NotFound("no such item")
        if request.method == "OPTIONS":
            return "the application's own OPTIONS"
        return "elsewhere" if request.path == "/page" else None


def serve(**options: Any) -> tuple[BaseServer, MemoryTransport]:
    options.setdefault("allow_origins", [APP])
    return memory_server(CORS(**options), Api())


def preflight(method: str = "PUT", headers: str | None = None, origin: str = APP) -> Any:
    fields = {"Origin": origin, "Access-Control-Request-Method": method}
    if headers is not None:
        fields["Access-Control-Request-Headers"] = headers
    return fields


async def test_a_preflight_is_answered_before_the_application() -> None:
    server, transport = serve(
        allow_methods=["GET", "PUT"], allow_headers=["Content-Type", "X-Token"], max_age=60
    )
    async with server:
        response = await Client(transport).request(
            "OPTIONS", "/api/items", headers=preflight("PUT", "x-token, content-type")
        )
        assert response.status == 204
        assert response.headers["access-control-allow-origin"] == APP
        assert response.headers["access-control-allow-methods"] == "GET, PUT, HEAD, POST"
        assert response.headers["access-control-allow-headers"] == "x-token, content-type"
        assert response.headers["access-control-max-age"] == "60"
        assert "Origin" in response.headers["vary"]
        assert "access-control-allow-credentials" not in response.headers


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        (preflight(origin="https://evil.example"), "origin"),
        (preflight("DELETE"), "method DELETE"),
        (preflight("GET", "X-Secret"), "X-Secret"),
    ],
)
async def test_what_a_preflight_may_not_ask(fields: dict[str, str], reason: str) -> None:
    server, transport = serve(allow_methods=["GET", "PUT"], allow_headers=["X-Token"])
    async with server:
        response = await Client(transport).request("OPTIONS", "/api/items", headers=fields)
        assert response.status == 403
        assert reason in response.text
        assert "access-control-allow-origin" not in response.headers


async def test_plain_options_requests_reach_the_application() -> None:
    server, transport = serve()
    async with server:
        response = await Client(transport).request("OPTIONS", "/x", headers={"Origin": APP})
        assert response.text == "the application's own OPTIONS"


async def test_actual_requests_and_errors_are_marked() -> None:
    server, transport = serve(allow_credentials=True, expose_headers=["X-Total"])
    async with server:
        client = Client(transport)
        response = await client.get("/api/items", headers={"Origin": APP})
        assert response.headers["access-control-allow-origin"] == APP
        assert response.headers["access-control-allow-credentials"] == "true"
        assert response.headers["access-control-expose-headers"] == "X-Total"
        assert response.headers["vary"] == "Origin"
        missing = await client.get("/api/missing", headers={"Origin": APP})
        assert missing.status == 404
        assert missing.headers["access-control-allow-origin"] == APP
        other = await client.get("/api/items", headers={"Origin": "https://evil.example"})
        assert "access-control-allow-origin" not in other.headers
        assert other.headers["vary"] == "Origin"
        alone = await client.get("/api/items")
        assert "access-control-allow-origin" not in alone.headers


async def test_any_origin_and_paths() -> None:
    server, transport = serve(allow_origins="*", paths=["/api/"])
    async with server:
        client = Client(transport)
        api = await client.get("/api/items", headers={"Origin": "https://any.example"})
        assert api.headers["access-control-allow-origin"] == "*"
        assert "vary" not in api.headers
        page = await client.get("/page", headers={"Origin": "https://any.example"})
        assert "access-control-allow-origin" not in page.headers


async def test_credentials_name_the_origin_even_for_any() -> None:
    server, transport = serve(allow_origins="*", allow_credentials=True, allow_headers="*")
    async with server:
        response = await Client(transport).request(
            "OPTIONS", "/api/items", headers=preflight("POST", "X-Anything")
        )
        assert response.headers["access-control-allow-origin"] == APP
        assert response.headers["access-control-allow-headers"] == "X-Anything"


async def test_a_callable_decides_per_origin() -> None:
    server, transport = serve(allow_origins=lambda origin: origin.endswith(".example.com"))
    async with server:
        client = Client(transport)
        good = await client.get("/api/items", headers={"Origin": "https://b.example.com"})
        assert good.headers["access-control-allow-origin"] == "https://b.example.com"
        bad = await client.get("/api/items", headers={"Origin": "https://example.org"})
        assert "access-control-allow-origin" not in bad.headers


def test_settings_are_checked() -> None:
    with pytest.raises(ValueError, match="write"):
        CORS(APP)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="max_age"):
        CORS("*", max_age=-1)


@pytest.fixture
def curl() -> str:
    path = shutil.which("curl")
    if path is None:
        pytest.skip("curl is not installed (apt-get install curl)")
    return path


@pytest.fixture
def live_server() -> Iterator[BaseServer]:
    server = Server("tcp://127.0.0.1:0") + CORS([APP], allow_methods=["PUT"]) + Api()
    with serve_in_thread(server) as running:
        yield running


@pytest.mark.integration
def test_curl_preflight(curl: str, live_server: BaseServer) -> None:
    url = f"http://127.0.0.1:{live_server.port}/api/items"
    result = subprocess.run(
        [
            curl,
            "-sS",
            "-X",
            "OPTIONS",
            "-D",
            "-",
            "-o",
            "/dev/null",
            "-H",
            f"Origin: {APP}",
            "-H",
            "Access-Control-Request-Method: PUT",
            url,
        ],
        capture_output=True,
        check=True,
        timeout=10,
        text=True,
    )
    head = result.stdout.lower()
    assert head.startswith("http/1.1 204")
    assert f"access-control-allow-origin: {APP}" in head
    assert "access-control-allow-methods: put" in head
