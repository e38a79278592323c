"""``http.response.zerocopysend``: files sent by relays-http (sendfile where it can)."""

from __future__ import annotations

import urllib.request
from pathlib import Path
from typing import Any

import pytest

from relays_asgi import Asgi
from relays_http import Server
from relays_http.testing import Client, memory_server, serve_in_thread

Scope = dict[str, Any]
TIMEOUT = 10
CONTENT = bytes(range(256)) * 4096  # 1 MiB


def file_app(path: Path, seen: list[Scope]) -> Any:
    async def app(scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        seen.append(scope)
        if "http.response.zerocopysend" not in scope["extensions"]:
            await send({"type": "http.response.start", "status": 200, "headers": []})
            await send({"type": "http.response.body", "body": b"no zerocopy"})
            return
        with path.open("rb") as file:
            if scope["path"] == "/part":
                headers = [(b"content-length", b"100")]
                await send({"type": "http.response.start", "status": 200, "headers": headers})
                await send(
                    {
                        "type": "http.response.zerocopysend",
                        "file": file,
                        "offset": 1000,
                        "count": 100,
                    }
                )
                return
            await send({"type": "http.response.start", "status": 200, "headers": []})
            await send({"type": "http.response.body", "body": b"head:", "more_body": True})
            await send({"type": "http.response.zerocopysend", "file": file, "more_body": True})
            await send({"type": "http.response.body", "body": b":tail"})

    return app


@pytest.mark.integration
def test_files_go_out_through_the_transport(tmp_path: Path) -> None:
    path = tmp_path / "data.bin"
    path.write_bytes(CONTENT)
    seen: list[Scope] = []
    server = Server("tcp://127.0.0.1:0") + Asgi(file_app(path, seen))
    with serve_in_thread(server):
        with urllib.request.urlopen(server.url + "whole", timeout=TIMEOUT) as response:
            assert response.read() == b"head:" + CONTENT + b":tail"
        with urllib.request.urlopen(server.url + "part", timeout=TIMEOUT) as response:
            assert response.headers["content-length"] == "100"
            assert response.read() == CONTENT[1000:1100]
    assert seen[0]["extensions"] == {
        "http.response.trailers": {},
        "http.response.zerocopysend": {},
    }


async def test_the_extension_is_offered_only_where_the_transport_can_send_files(
    tmp_path: Path,
) -> None:
    path = tmp_path / "data.bin"
    path.write_bytes(CONTENT)
    seen: list[Scope] = []
    server, transport = memory_server(Asgi(file_app(path, seen)))
    async with server:
        assert (await Client(transport).get("/")).body == b"no zerocopy"
    assert seen[0]["extensions"] == {"http.response.trailers": {}}
