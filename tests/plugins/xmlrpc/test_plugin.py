"""The plugin hook of relays-xmlrpc, and the parts that need no server."""

from __future__ import annotations

import gzip
import xmlrpc.client

import pytest

from relays import find_dispatcher
from relays.testing import Manager
from relays_xmlrpc import NOT_WELL_FORMED, XMLRPC, plugin


def test_the_hook_answers_xmlrpc_only() -> None:
    assert find_dispatcher("xmlrpc") is XMLRPC
    assert plugin.relays_dispatcher(name="jsonrpc") is None
    assert [(p.kind, p.name) for p in plugin.relays_provides()] == [("dispatcher", "xmlrpc")]


async def test_dispatch_works_without_http() -> None:
    rpc = XMLRPC()
    rpc.register_function(lambda a, b: a * b, name="times")
    async with Manager() + rpc:
        reply = await rpc.dispatch(xmlrpc.client.dumps((6, 7), "times").encode())
        assert xmlrpc.client.loads(reply)[0] == (42,)
        reply = await rpc.dispatch(gzip.compress(b"<methodCall/>"))
        with pytest.raises(xmlrpc.client.Fault) as caught:
            xmlrpc.client.loads(reply)
        assert caught.value.faultCode == NOT_WELL_FORMED


def test_functions_need_a_name() -> None:
    with pytest.raises(ValueError, match="give a name"):
        XMLRPC().register_function(object())
