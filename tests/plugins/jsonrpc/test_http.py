"""JSON-RPC over real HTTP on loopback, with jsonrpcclient building and parsing messages."""

from __future__ import annotations

import asyncio
import http.client
import json
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonrpcclient import Error, Ok, notification_json, parse, parse_json, request, request_json

from relays import Component, find_dispatcher
from relays_http import Request, Response, Server
from relays_jsonrpc import INVALID_PARAMS, JSONRPC, METHOD_NOT_FOUND, JSONRPCError, JSONRPCLimits

pytestmark = pytest.mark.integration


class Calculator(Component):
    channel = "rpc"

    def __init__(self) -> None:
        super().__init__()
        self.told: list[str] = []

    def add(self, a: float, b: float) -> float:
        return a + b

    async def divide(self, a: float, b: float) -> float:
        await asyncio.sleep(0)
        if b == 0:
            raise JSONRPCError(1001, "division by zero", {"a": a})
        return a / b

    def tell(self, message: str) -> None:
        self.told.append(message)


class Pages(Component):
    """Other paths still reach ordinary request handlers."""

    channel = "web"

    def request(self, request: Request, response: Response) -> Any:
        return "page" if request.path == "/page" else None


@pytest.fixture
def server() -> Iterator[Server]:
    rpc = JSONRPC("/rpc", limits=JSONRPCLimits(max_request_size=4096))
    rpc.register_function(lambda: "pong", name="ping")
    app = Server("tcp://127.0.0.1:0") + rpc + Calculator() + Pages()
    app.start()
    app.wait_listening()
    yield app
    app.stop()


def post(
    server: Server,
    body: str | bytes,
    *,
    path: str = "/rpc",
    content_type: str = "application/json",
    method: str = "POST",
) -> tuple[int, dict[str, str], bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
    try:
        headers = {"Content-Type": content_type} if content_type else {}
        connection.request(method, path, body=body, headers=headers)
        reply = connection.getresponse()
        return reply.status, {k.lower(): v for k, v in reply.getheaders()}, reply.read()
    finally:
        connection.close()


def test_a_call_with_a_real_client(server: Server) -> None:
    status, headers, body = post(server, request_json("add", params=(2, 3)))
    assert status == 200
    assert headers["content-type"] == "application/json"
    assert isinstance(parse_json(body.decode()), Ok)
    assert parse_json(body.decode()).result == 5


def test_named_params_async_handlers_and_application_errors(server: Server) -> None:
    _, _, body = post(server, request_json("divide", params={"a": 1, "b": 4}))
    assert parse_json(body.decode()).result == 0.25
    _, _, body = post(server, request_json("divide", params={"a": 1, "b": 0}))
    error = parse_json(body.decode())
    assert isinstance(error, Error)
    assert (error.code, error.message, error.data) == (1001, "division by zero", {"a": 1})


def test_registered_functions_and_protocol_errors(server: Server) -> None:
    _, _, body = post(server, request_json("ping"))
    assert parse_json(body.decode()).result == "pong"
    _, _, body = post(server, request_json("nope"))
    assert parse_json(body.decode()).code == METHOD_NOT_FOUND
    status, _, body = post(server, request_json("add", params=(1,)))
    assert status == 200
    assert parse_json(body.decode()).code == INVALID_PARAMS


def test_a_batch_is_matched_by_id(server: Server) -> None:
    batch = [request("add", params=(1, n)) for n in range(5)]
    batch.append(json.loads(notification_json("tell", params=("hi",))))
    _, _, body = post(server, json.dumps(batch))
    results = {response.id: response.result for response in parse(json.loads(body))}
    assert results == {item["id"]: 1 + n for n, item in enumerate(batch[:5])}


def test_only_notifications_get_204_and_no_body(server: Server) -> None:
    status, _, body = post(server, notification_json("tell", params=("hello",)))
    assert (status, body) == (204, b"")
    batch = [json.loads(notification_json("tell", params=(str(n),))) for n in range(3)]
    status, _, body = post(server, json.dumps(batch))
    assert (status, body) == (204, b"")


def test_parse_errors_are_200_with_an_error(server: Server) -> None:
    status, _, body = post(server, b"{not json")
    assert status == 200
    assert json.loads(body)["error"]["code"] == -32700


def test_only_post(server: Server) -> None:
    status, headers, _ = post(server, b"", method="GET")
    assert status == 405
    assert headers["allow"] == "POST"


def test_only_json(server: Server) -> None:
    status, _, _ = post(server, request_json("ping"), content_type="text/plain")
    assert status == 415
    status, _, _ = post(server, request_json("ping"), content_type="")
    assert status == 415
    status, _, body = post(server, request_json("ping"), content_type="application/json-rpc")
    assert (status, parse_json(body.decode()).result) == (200, "pong")


def test_too_large(server: Server) -> None:
    status, _, _ = post(server, request_json("tell", params=("x" * 5000,)))
    assert status == 413


def test_other_paths_go_on_to_other_handlers(server: Server) -> None:
    status, _, body = post(server, b"", path="/page", method="GET")
    assert (status, body) == (200, b"page")
    status, _, _ = post(server, b"", path="/rpc/more", method="GET")
    assert status == 404


def test_the_dispatcher_hook_gives_the_component() -> None:
    assert find_dispatcher("jsonrpc") is JSONRPC


def test_paths_must_be_absolute() -> None:
    with pytest.raises(ValueError, match="start with '/'"):
        JSONRPC("rpc")


@settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.binary(max_size=300))
def test_any_bytes_posted_get_a_well_formed_answer(server: Server, data: bytes) -> None:
    status, _, body = post(server, data)
    assert status in (200, 204), body
    if status == 200:
        reply = json.loads(body)
        for item in reply if isinstance(reply, list) else [reply]:
            assert item["jsonrpc"] == "2.0"
            assert "result" in item or isinstance(item["error"]["code"], int)
