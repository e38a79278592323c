"""``examples/client/fetch.py``'s recipes work against a local server."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from scripted import ReceivedRequest, reply, serving

EXAMPLE = Path(__file__).parents[4] / "examples" / "client" / "fetch.py"
Serve = Callable[..., Any]


def load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("client_fetch_example", EXAMPLE)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def answer(request: ReceivedRequest) -> bytes:
    if request.target.startswith("/big"):
        return reply(b"0123456789" * 100_000)
    return reply(
        json.dumps({"target": request.target, "body": request.body.decode()}).encode(),
        headers={"Content-Type": "application/json; charset=utf-8"},
    )


async def test_the_recipes(serve: Serve, tmp_path: Path) -> None:
    example = load()
    async with serve(answer) as server:
        seen = await example.fetch_json(server.url("/items"))
        assert seen["target"] == "/items?page=2&tag=a&tag=b"
        form, document = await example.post_form_and_json(server.url())
        assert json.loads(form)["body"] == "name=relays&kind=framework"
        assert json.loads(document)["body"] == '{"name":"relays","tags":["asyncio"]}'
        path = tmp_path / "big.bin"
        assert await example.download(server.url("/big"), path) == 1_000_000
        assert await example.upload(server.url(), path) == 200
        assert server.requests[-1].body == path.read_bytes()
        assert await example.many(server.url(), 25) == [200] * 25
        assert server.connections <= 4 + 10  # one per session, then 25 requests on 10


@pytest.mark.integration
def test_the_program_prints_the_status() -> None:
    import asyncio
    import threading

    ready = threading.Event()
    stop: list[Callable[[], None]] = []
    port: list[int] = []

    def run() -> None:
        async def main() -> None:
            async with serving(
                lambda r: reply(b"hello", headers={"Content-Type": "text/plain"})
            ) as server:
                port.append(server.port)
                finished = asyncio.Event()
                loop = asyncio.get_running_loop()
                stop.append(lambda: loop.call_soon_threadsafe(finished.set))
                ready.set()
                await finished.wait()

        asyncio.run(main())

    thread = threading.Thread(target=run)
    thread.start()
    try:
        assert ready.wait(30)
        result = subprocess.run(
            [sys.executable, str(EXAMPLE), f"http://127.0.0.1:{port[0]}/"],
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
    finally:
        stop[0]()
        thread.join()
    assert result.stdout.splitlines()[:2] == ["200 OK text/plain", "hello"]
