"""The examples in ``examples/asgi/`` run, answer real requests and stop on SIGTERM."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path

import pytest

from relays.testing import RunExample
from relays_http.testing import run_relays

pytestmark = pytest.mark.integration

EXAMPLES = Path(__file__).parents[3] / "examples" / "asgi"


def fetch(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=5) as response:
        body: bytes = response.read()
        return body


def test_the_fastapi_example(run_example: RunExample) -> None:
    url = run_example(EXAMPLES / "fastapi_app.py", "tcp://127.0.0.1:{0}").url
    assert json.loads(fetch(url + "items/3?q=x")) == {"item_id": 3, "q": "x"}


def test_the_fastapi_example_under_relays_serve() -> None:
    arguments = ("serve", "fastapi_app:app", "--bind", "tcp://127.0.0.1:0")
    with run_relays(*arguments, cwd=EXAMPLES) as (_, url):
        assert json.loads(fetch(url + "items/7")) == {"item_id": 7, "q": None}


def test_the_mounted_example(run_example: RunExample) -> None:
    url = run_example(EXAMPLES / "mounted.py", "tcp://127.0.0.1:{0}").url
    assert fetch(url) == b"relays here; the API is under /api"
    answer = json.loads(fetch(url + "api/hello/ann"))
    assert answer == {"hello": "ann", "url": url + "api/hello/ann"}
    assert fetch(url + "api/count") == b"0\n1\n2\n3\n4\n"
