"""``Exchange.dispatch()``: a head taker hands a request back to the usual path."""

from __future__ import annotations

import pytest

from relays import Component
from relays_http import Exchange, Request, Response
from relays_http.testing import Client, memory_server


class Usual(Component):
    """Answers on the usual path, saying whether the request was handed back."""

    channel = "web"

    def __init__(self) -> None:
        super().__init__()
        self.handed: list[Request] = []

    def request(self, request: Request, response: Response) -> str:
        handed = any(request is each for each in self.handed)
        response.headers["x-handed"] = str(handed)
        return f"{request.method} {request.path}"

    def hand_back(self, exchange: Exchange) -> bool:
        """The head taker: every request without a body is handed back."""
        if exchange.has_body:
            with pytest.raises(RuntimeError, match="with a body"):
                exchange.dispatch()
            return False  # so it is left to the usual path
        self.handed.append(exchange.dispatch())
        assert exchange.over
        with pytest.raises(RuntimeError, match="already"):
            exchange.dispatch()
        return True


async def test_a_request_handed_back_is_answered_by_the_request_handlers() -> None:
    usual = Usual()
    server, transport = memory_server(usual)
    server.http.take_heads(usual.hand_back)
    async with server:
        client = Client(transport)
        answer = await client.get("/a?x=1")
        assert (answer.status, answer.body) == (200, b"GET /a")
        assert answer.headers["x-handed"] == "True"
        head = await client.request("HEAD", "/b")
        assert (head.status, head.body, head.headers["content-length"]) == (200, b"", "7")
        posted = await client.post("/c", b"a body")  # a body: left, never handed back
        assert (posted.body, posted.headers["x-handed"]) == (b"POST /c", "False")
        assert not client.closed  # kept alive across all three
    assert [(request.method, request.target) for request in usual.handed] == [
        ("GET", "/a?x=1"),
        ("HEAD", "/b"),
    ]
