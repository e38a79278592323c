"""JSON-RPC over raw TCP, one document per line: relays-sockets server, socket client."""

from __future__ import annotations

import asyncio
import itertools
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from relays import Component, find_protocol
from relays.testing import Manager, MemoryTransport
from relays_jsonrpc import INVALID_REQUEST, JSONRPCLimits, JSONRPCLines
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


async def test_a_connection_with_too_many_pending_calls_stops_being_read() -> None:
    transport = MemoryTransport(channel="mem")
    lines = JSONRPCLines(channel="mem", limits=JSONRPCLimits(max_pending_per_connection=2))
    async with Manager() + transport + lines + Methods():
        client = transport.connect()
        client.send(b"".join(call("sleep", [0.1], n) + b"\n" for n in range(3)))
        connection = transport.connections[0]
        await asyncio.sleep(0.02)
        assert not connection.reading, "reading paused at two pending calls"
        await client.wait(lambda data: data.count(b"\n") == 3)
        assert connection.reading


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
