"""Abstract UNIX sockets (``unix:@name``, Linux): served and reached, no file made."""

from __future__ import annotations

import os
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest

from relays import Component
from relays.testing import Manager
from relays.transports import Write
from relays_sockets import SocketConnection, UNIXClient, UNIXServer

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(
        not sys.platform.startswith("linux"), reason="abstract UNIX sockets are Linux's"
    ),
]


class Echo(Component):
    def read(self, sock: SocketConnection, data: bytes) -> bytes:
        return data


def listening_abstract() -> set[str]:
    with open("/proc/net/unix") as table:
        return {line.split()[-1] for line in table if line.split()[-1].startswith("@")}


async def test_echo_over_an_abstract_socket_leaves_no_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, recorder: Any
) -> None:
    monkeypatch.chdir(tmp_path)
    name = f"relays-test-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    server = UNIXServer(f"unix:@{name}")
    assert server.path == f"@{name}"
    async with Echo() + server:
        assert await server.wait_ready() == f"@{name}"
        assert f"@{name}" in listening_abstract()
        client = UNIXClient(f"unix://@{name}")
        log = recorder()
        async with Manager() + log + client:
            connected = await log.until("connected")
            assert connected[0].args == (f"@{name}", None)
            client.fire(Write(b"abstract"))
            reads = await log.until("read")
            assert reads[0].args == (b"abstract",)
    assert f"@{name}" not in listening_abstract()
    assert os.listdir(tmp_path) == []


async def test_a_taken_abstract_name_is_an_error(recorder: Any) -> None:
    name = f"relays-test-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    first = UNIXServer(f"unix:@{name}")
    async with Echo() + first:
        await first.wait_ready()
        second = UNIXServer(f"unix:@{name}")
        async with Echo() + second:
            with pytest.raises(OSError, match="in use"):
                await second.wait_ready()
