"""examples/chat.py, driven by three real TCP clients on loopback."""

from __future__ import annotations

import asyncio
import importlib.util
from pathlib import Path
from types import ModuleType

import pytest

from relays.testing import Recorder

pytestmark = pytest.mark.integration

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "chat.py"


def load_example() -> ModuleType:
    spec = importlib.util.spec_from_file_location("chat_example", EXAMPLE)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


async def test_each_line_reaches_the_other_two_and_not_the_sender() -> None:
    chat = load_example().ChatServer("127.0.0.1", 0)
    log = Recorder()
    async with chat + log:
        address = await chat.server.wait_ready()
        users = [await asyncio.open_connection(*address) for _ in range(3)]
        await log.until("connect", count=3)
        assert len(chat.clients) == 3
        for number, (_, writer) in enumerate(users):
            reads = len(log.named("read"))
            writer.write(b"hello from %d" % number)  # a line in two pieces: two reads
            await log.until("read", count=reads + 1)
            writer.write(b"!\n")
        for number, (reader, _) in enumerate(users):
            lines = {await asyncio.wait_for(reader.readline(), 5) for _ in range(2)}
            others = {b"hello from %d!\n" % other for other in range(3) if other != number}
            assert lines == others
        # One last line each, in turn: the next line anyone reads is another user's,
        # never the one it sent itself.
        for number, (_, writer) in enumerate(users):
            writer.write(b"bye from %d\n" % number)
            for other, (reader, _) in enumerate(users):
                if other != number:
                    assert (
                        await asyncio.wait_for(reader.readline(), 5) == b"bye from %d\n" % number
                    )
        for _, writer in users:
            writer.close()
            await writer.wait_closed()
