"""The plugin: ASGI apps recognised by shape, for ``load_app`` and ``relays serve``."""

from __future__ import annotations

import signal
import subprocess
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from relays import find_dispatcher, load_app
from relays_asgi import Asgi, asgi_version
from relays_http.testing import RELAYS_COMMAND, run_relays


async def asgi3(scope: Any, receive: Any, send: Any) -> None:
    pass


class Asgi3Object:
    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        pass


class Asgi2Class:
    def __init__(self, scope: Any) -> None:
        self.scope = scope

    async def __call__(self, receive: Any, send: Any) -> None:
        pass


def wsgi(environ: Any, start_response: Any) -> list[bytes]:
    return []


async def two_arguments(request: Any, response: Any) -> None:
    pass


def factory() -> Any:
    return asgi3


@pytest.mark.parametrize(
    ("obj", "version"),
    [
        (asgi3, 3),
        (Asgi3Object(), 3),
        (Asgi2Class, 2),
        (wsgi, None),
        (two_arguments, None),
        (factory, None),
        (Asgi3Object, None),  # the class itself: ASGI 2 takes a scope in __init__
        ("text", None),
    ],
)
def test_apps_are_recognised_by_shape_without_being_called(obj: object, version: int) -> None:
    assert asgi_version(obj) == version


def test_the_asgi_dispatcher_is_found_by_name() -> None:
    assert find_dispatcher("asgi") is Asgi


def test_load_app_wraps_an_asgi_app_and_what_a_factory_returns(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "asgi_module.py").write_text(
        "async def app(scope, receive, send):\n    pass\n\ndef make():\n    return app\n"
    )
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    for target in ("asgi_module:app", "asgi_module:make"):
        loaded = load_app(target)
        assert isinstance(loaded, Asgi)


def fetch(url: str, data: bytes | None = None) -> tuple[int, bytes]:
    with urllib.request.urlopen(url, data=data, timeout=5) as response:
        body: bytes = response.read()
        return response.status, body


MAIN = """
from fastapi import FastAPI

app = FastAPI()


@app.get("/items/{item_id}")
async def item(item_id: int) -> dict:
    return {"item_id": item_id}
"""


@pytest.mark.integration
def test_relays_serve_serves_a_fastapi_app(tmp_path: Path) -> None:
    (tmp_path / "main.py").write_text(MAIN)
    arguments = ("serve", "main:app", "--bind", "tcp://127.0.0.1:0")
    with run_relays(*arguments, cwd=tmp_path) as (process, url):
        assert fetch(url + "items/42") == (200, b'{"item_id":42}')
        process.send_signal(signal.SIGTERM)
        assert process.wait(10) == 0


FAILING = """
from contextlib import asynccontextmanager

from starlette.applications import Starlette


@asynccontextmanager
async def lifespan(app):
    raise RuntimeError("the database is not there")
    yield


app = Starlette(lifespan=lifespan)
"""


@pytest.mark.integration
def test_relays_serve_stops_when_the_apps_startup_fails(tmp_path: Path) -> None:
    (tmp_path / "failing.py").write_text(FAILING)
    process = subprocess.run(
        [*RELAYS_COMMAND, "serve", "failing:app", "--bind", "tcp://127.0.0.1:0"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert "the database is not there" in process.stderr
    assert process.returncode == 3  # as uvicorn's startup failure
