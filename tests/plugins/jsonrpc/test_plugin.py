"""The plugin hooks of relays-jsonrpc: found by name, described, nothing else claimed."""

from __future__ import annotations

from relays import find_dispatcher, find_protocol
from relays_jsonrpc import JSONRPC, JSONRPCLines, plugin


def test_the_hooks_answer_jsonrpc_only() -> None:
    assert find_dispatcher("jsonrpc") is JSONRPC
    assert find_protocol("jsonrpc") is JSONRPCLines
    assert plugin.relays_dispatcher(name="xmlrpc") is None
    assert plugin.relays_protocol(name="http") is None


def test_it_says_what_it_provides() -> None:
    provided = {(p.kind, p.name) for p in plugin.relays_provides()}
    assert provided == {("dispatcher", "jsonrpc"), ("protocol", "jsonrpc")}
