"""JSON-RPC over raw TCP, one document per line: relays-sockets server, socket client."""

from __future__ import annotations

import asyncio
import itertools
import json
import shutil
import socket
import struct
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from relays import Component, find_protocol
from relays.testing import Manager, MemoryTransport
from relays_jsonrpc import INVALID_REQUEST, JSONRPCLimits, JSONRPCLines
from relays_jsonrpc._lines import LineTooLong, _Lines
from relays_sockets import TCPServer


class Methods(Component):
    channel = "rpc"

    def add(self, a: int, b: int) -> int:
        return a + b

    async def sleep(self, seconds: float) -> float:
        await asyncio.sleep(seconds)
        return seconds


async def exchange(address: Any, data: bytes, answers: int) -> list[Any]:
    reader, writer = await asyncio.open_connection(*address)
    try:
        writer.write(data)
        lines = [await asyncio.wait_for(reader.readline(), 5) for _ in range(answers)]
        return [json.loads(line) for line in lines]
    finally:
        writer.close()
        await writer.wait_closed()


def call(method: str, params: Any, id: Any) -> bytes:
    return json.dumps({"jsonrpc": "2.0", "method": method, "params": params, "id": id}).encode()


@pytest.mark.integration
async def test_calls_over_tcp_with_a_raw_socket() -> None:
    server = TCPServer("tcp://127.0.0.1:0", channel="jsonrpc-tcp")
    protocol = find_protocol("jsonrpc")(channel="jsonrpc-tcp")
    assert isinstance(protocol, JSONRPCLines)
    async with Manager() + server + protocol + Methods():
        address = await server.wait_ready()
        data = call("sleep", [0.2], "slow") + b"\n" + call("add", [1, 2], 1) + b"\r\n\n"
        data += json.dumps([json.loads(call("add", [2, 2], 2))]).encode() + b"\n"
        data += b'{"jsonrpc": "2.0", "method": "add", "params": [5, 5]}\n'  # a notification
        replies = await exchange(address, data, 3)
    # Answers come as they are ready, matched by id: the slow one last.
    assert replies[-1] == {"jsonrpc": "2.0", "result": 0.2, "id": "slow"}
    assert {"jsonrpc": "2.0", "result": 3, "id": 1} in replies
    assert [{"jsonrpc": "2.0", "result": 4, "id": 2}] in replies


@pytest.mark.integration
async def test_a_line_too_long_is_refused_and_the_connection_closed() -> None:
    server = TCPServer("tcp://127.0.0.1:0", channel="jsonrpc-tcp")
    lines = JSONRPCLines(channel="jsonrpc-tcp", limits=JSONRPCLimits(max_request_size=64))
    async with Manager() + server + lines + Methods():
        address = await server.wait_ready()
        reader, writer = await asyncio.open_connection(*address)
        writer.write(b"[" + b" " * 100)
        reply = json.loads(await asyncio.wait_for(reader.readline(), 5))
        assert reply["error"]["code"] == INVALID_REQUEST
        assert await asyncio.wait_for(reader.read(), 5) == b""
        writer.close()


class Gated(Component):
    """Methods that wait for the test to open a gate, counting how many run at once."""

    channel = "rpc"

    def __init__(self) -> None:
        super().__init__()
        self.gate = asyncio.Event()
        self.active = 0
        self.most = 0
        self.started = 0
        self.changed = asyncio.Event()

    async def held(self, n: int) -> int:
        self.active += 1
        self.started += 1
        self.most = max(self.most, self.active)
        self.changed.set()
        try:
            await self.gate.wait()
        finally:
            self.active -= 1
        return n


async def until_started(gated: Gated, count: int) -> None:
    while gated.started < count:
        gated.changed.clear()
        await gated.changed.wait()


async def test_a_connection_with_too_many_pending_calls_stops_being_read() -> None:
    transport = MemoryTransport(channel="mem")
    lines = JSONRPCLines(channel="mem", limits=JSONRPCLimits(max_pending_per_connection=2))
    gated = Gated()
    async with Manager() + transport + lines + gated:
        client = transport.connect()
        client.send(b"".join(call("held", [n], n) + b"\n" for n in range(5)))
        connection = transport.connections[0]
        await asyncio.wait_for(until_started(gated, 2), 5)
        assert gated.active == 2, "the other lines wait in the buffer"
        assert not connection.reading, "reading paused while lines wait"
        gated.gate.set()
        received = await client.wait(lambda data: data.count(b"\n") == 5)
        assert connection.reading
    assert sorted(json.loads(line)["result"] for line in received.splitlines()) == [0, 1, 2, 3, 4]
    assert gated.most == 2


@pytest.mark.integration
async def test_the_pending_limit_holds_over_tcp_for_a_flood_of_calls() -> None:
    server = TCPServer("tcp://127.0.0.1:0", channel="jsonrpc-tcp")
    limits = JSONRPCLimits(max_pending_per_connection=4)
    gated = Gated()
    async with Manager() + server + JSONRPCLines(channel="jsonrpc-tcp", limits=limits) + gated:
        address = await server.wait_ready()
        reader, writer = await asyncio.open_connection(*address)
        try:
            writer.write(b"".join(call("held", [n], n) + b"\n" for n in range(500)))
            await asyncio.wait_for(until_started(gated, 4), 5)
            gated.gate.set()
            replies = [
                json.loads(await asyncio.wait_for(reader.readline(), 5)) for _ in range(500)
            ]
        finally:
            writer.close()
            await writer.wait_closed()
    assert sorted(reply["result"] for reply in replies) == list(range(500))
    assert gated.most == 4, "never more calls running than the limit"


@pytest.mark.integration
async def test_a_half_closed_client_gets_every_answer_then_the_end() -> None:
    server = TCPServer("tcp://127.0.0.1:0", channel="jsonrpc-tcp")
    gated = Gated()
    async with Manager() + server + JSONRPCLines(channel="jsonrpc-tcp") + gated + Methods():
        address = await server.wait_ready()
        reader, writer = await asyncio.open_connection(*address)
        # The last line has no newline: the end of the stream ends it.
        writer.write(call("held", [1], 1) + b"\n" + call("add", [1, 2], 2) + b"\n")
        writer.write(call("add", [3, 4], 3))
        writer.write_eof()
        await asyncio.wait_for(until_started(gated, 1), 5)
        gated.gate.set()
        received = await asyncio.wait_for(reader.read(), 5)  # up to the server's close
        writer.close()
        await writer.wait_closed()
    replies = {reply["id"]: reply["result"] for reply in map(json.loads, received.splitlines())}
    assert replies == {1: 1, 2: 3, 3: 7}


@pytest.mark.integration
async def test_a_gone_clients_calls_are_cancelled() -> None:
    server = TCPServer("tcp://127.0.0.1:0", channel="jsonrpc-tcp")
    lines = JSONRPCLines(channel="jsonrpc-tcp")
    started = asyncio.Event()
    cancelled = asyncio.Event()

    @lines.register_function
    async def forever() -> None:
        started.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancelled.set()
            raise

    async with Manager() + server + lines:
        address = await server.wait_ready()
        _, writer = await asyncio.open_connection(*address)
        writer.write(call("forever", [], 1) + b"\n")
        await asyncio.wait_for(started.wait(), 5)
        # Gone for good: a reset (a plain close looks like a half-close, answered).
        sock = writer.get_extra_info("socket")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        writer.transport.abort()
        await asyncio.wait_for(cancelled.wait(), 5)


@pytest.mark.integration
@pytest.mark.skipif(shutil.which("nc") is None, reason="nc (apt: netcat-openbsd) is not installed")
async def test_the_documented_nc_example_prints_its_answer() -> None:
    server = TCPServer("tcp://127.0.0.1:0", channel="jsonrpc-tcp")
    async with Manager() + server + JSONRPCLines(channel="jsonrpc-tcp") + Methods():
        host, port = await server.wait_ready()
        process = await asyncio.create_subprocess_exec(
            "nc",
            "-N",
            host,
            str(port),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
        )
        try:
            output, _ = await asyncio.wait_for(
                process.communicate(b'{"jsonrpc":"2.0","method":"add","params":[1,2],"id":1}\n'),
                10,
            )
        finally:
            if process.returncode is None:
                process.kill()
                await process.wait()
    assert json.loads(output) == {"jsonrpc": "2.0", "result": 3, "id": 1}


@settings(max_examples=200, deadline=None)
@given(
    lines=st.lists(st.binary(max_size=40).map(lambda b: b.replace(b"\n", b"")), max_size=8),
    tail=st.binary(max_size=40).map(lambda b: b.replace(b"\n", b"")),
    cuts=st.lists(st.integers(0, 400), max_size=8),
)
def test_any_split_gives_the_same_lines_and_leaves_the_tail(
    lines: list[bytes], tail: bytes, cuts: list[int]
) -> None:
    stream = b"".join(line + b"\n" for line in lines) + tail
    points = sorted({min(cut, len(stream)) for cut in cuts} | {0, len(stream)})
    buffer = _Lines(limit=1000)
    taken = []
    for a, b in itertools.pairwise(points):
        buffer.add(stream[a:b])
        while (line := buffer.next_line()) is not None:
            taken.append(line)
    assert taken == [line.strip() for line in lines]
    assert not buffer.has_line()
    buffer.finish()
    if tail:
        assert buffer.next_line() == tail.strip()
    assert buffer.next_line() is None


@settings(max_examples=200, deadline=None)
@given(data=st.binary(max_size=300), limit=st.integers(1, 64))
def test_any_bytes_give_lines_within_the_limit_or_line_too_long(data: bytes, limit: int) -> None:
    buffer = _Lines(limit=limit)
    buffer.add(data)
    try:
        while (line := buffer.next_line()) is not None:
            assert len(line) <= limit
    except LineTooLong:
        pass


async def feed(pieces: list[bytes]) -> bytes:
    transport = MemoryTransport(channel="mem")
    async with Manager() + transport + JSONRPCLines(channel="mem") + Methods():
        client = transport.connect()
        for piece in pieces:
            client.send(piece)
            await asyncio.sleep(0)
        return await client.wait(lambda data: data.count(b"\n") >= 2)


@settings(max_examples=30, deadline=None)
@given(cuts=st.lists(st.integers(0, 200), max_size=6))
def test_any_split_of_the_stream_gives_the_same_answers(cuts: list[int]) -> None:
    stream = call("add", [1, 2], 1) + b"\n" + call("add", [3, 4], 2) + b"\n"
    points = sorted({min(cut, len(stream)) for cut in cuts} | {0, len(stream)})
    pieces = [stream[a:b] for a, b in itertools.pairwise(points) if b > a]
    received = asyncio.run(feed(pieces))
    replies = sorted((json.loads(line) for line in received.splitlines()), key=lambda r: r["id"])
    assert [reply["result"] for reply in replies] == [3, 7]
