"""A real FastAPI app on relays: path parameters, a pydantic body and its 422, dependency
injection, and ``def`` endpoints that FastAPI runs in its thread pool. Driven with curl."""

from __future__ import annotations

import json
import shutil
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

import pytest
from fastapi import Depends, FastAPI, Header, HTTPException
from pydantic import BaseModel

from relays_asgi import Asgi
from relays_http import Server
from relays_http.testing import serve_in_thread

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(shutil.which("curl") is None, reason="no curl installed (apt-get curl)"),
]

TIMEOUT = 10


class Item(BaseModel):
    name: str
    price: float
    tags: list[str] = []


def token(x_token: Annotated[str | None, Header()] = None) -> str:
    if x_token != "secret":
        raise HTTPException(status_code=401, detail="a valid X-Token is needed")
    return x_token


def make_app() -> FastAPI:
    app = FastAPI()

    @app.get("/items/{item_id}")
    async def read_item(item_id: int, q: str | None = None) -> dict[str, object]:
        return {"item_id": item_id, "q": q}

    @app.post("/items", status_code=201)
    async def create_item(item: Item, user: Annotated[str, Depends(token)]) -> dict[str, object]:
        return {"created": item.model_dump(), "by": user}

    @app.get("/threads")
    async def loop_thread() -> dict[str, int]:
        return {"thread": threading.get_ident()}

    @app.get("/blocking")
    def blocking() -> dict[str, int]:  # FastAPI runs plain def endpoints in its thread pool
        return {"thread": threading.get_ident()}

    return app


@contextmanager
def serving() -> Iterator[str]:
    with serve_in_thread(Server("tcp://127.0.0.1:0") + Asgi(make_app())) as server:
        yield server.url.rstrip("/")


def curl(*arguments: str) -> tuple[int, str]:
    done = subprocess.run(
        ["curl", "-sS", "--max-time", str(TIMEOUT), "-w", "\n%{http_code}", *arguments],
        capture_output=True,
        text=True,
        timeout=TIMEOUT + 5,
        check=True,
    )
    body, _, status = done.stdout.rpartition("\n")
    return int(status), body


def post_json(url: str, data: object, *headers: str) -> tuple[int, str]:
    arguments = ["-H", "Content-Type: application/json", "--data", json.dumps(data)]
    for header in headers:
        arguments += ["-H", header]
    return curl(*arguments, url)


def test_path_and_query_parameters_are_parsed_and_checked() -> None:
    with serving() as url:
        status, body = curl(url + "/items/42?q=x")
        assert (status, json.loads(body)) == (200, {"item_id": 42, "q": "x"})
        status, body = curl(url + "/items/not-a-number")
        assert status == 422
        assert json.loads(body)["detail"][0]["loc"] == ["path", "item_id"]


def test_a_pydantic_body_its_422_and_a_dependency() -> None:
    with serving() as url:
        item = {"name": "lamp", "price": 9.5}
        status, body = post_json(url + "/items", item, "X-Token: secret")
        assert status == 201
        assert json.loads(body) == {
            "created": {"name": "lamp", "price": 9.5, "tags": []},
            "by": "secret",
        }
        status, body = post_json(url + "/items", {"name": "lamp"}, "X-Token: secret")
        assert status == 422
        assert json.loads(body)["detail"][0]["loc"] == ["body", "price"]
        status, body = post_json(url + "/items", item)
        assert (status, json.loads(body)) == (401, {"detail": "a valid X-Token is needed"})


def test_def_endpoints_run_in_fastapis_thread_pool() -> None:
    with serving() as url:
        _, on_loop = curl(url + "/threads")
        _, blocking = curl(url + "/blocking")
    assert json.loads(on_loop)["thread"] != json.loads(blocking)["thread"]


def test_the_openapi_schema_and_docs_are_served() -> None:
    with serving() as url:
        status, body = curl(url + "/openapi.json")
        assert status == 200
        assert "/items/{item_id}" in json.loads(body)["paths"]
        status, body = curl(url + "/docs")
        assert (status, "swagger" in body.lower()) == (200, True)
