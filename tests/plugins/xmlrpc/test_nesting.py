"""Values nested too deep are a fault, decided while parsing: no HTTP 500, no log flood."""

from __future__ import annotations

import asyncio
import logging
import xmlrpc.client

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from relays_xmlrpc import INTERNAL_ERROR, INVALID_REQUEST, XMLRPC, XMLRPCLimits
from relays_xmlrpc._codec import decode_call


def nested(depth: int, *, struct: bool = False) -> bytes:
    """A ``methodCall`` of ``echo`` with one value nested *depth* arrays (or structs) deep."""
    if struct:
        opening = b"<struct><member><name>a</name><value>"
        closing = b"</value></member></struct>"
    else:
        opening, closing = b"<array><data><value>", b"</value></data></array>"
    return (
        b"<?xml version='1.0'?><methodCall><methodName>echo</methodName><params><param><value>"
        + opening * depth
        + b"<int>1</int>"
        + closing * depth
        + b"</value></param></params></methodCall>"
    )


def rpc(max_nesting: int = 100) -> XMLRPC:
    endpoint = XMLRPC(limits=XMLRPCLimits(max_nesting=max_nesting))
    endpoint.register_function(lambda value: value, name="echo")
    return endpoint


def answer(endpoint: XMLRPC, document: bytes) -> tuple[tuple[object, ...] | None, int | None]:
    body = asyncio.run(endpoint.dispatch(document))
    try:
        return xmlrpc.client.loads(body, use_builtin_types=True)[0], None
    except xmlrpc.client.Fault as fault:
        return None, fault.faultCode


@pytest.mark.parametrize("struct", [False, True])
def test_a_thousand_levels_are_one_fault_and_no_log(
    struct: bool, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO):
        result, code = answer(rpc(), nested(1000, struct=struct))
    assert (result, code) == (None, INVALID_REQUEST)
    assert [record.getMessage() for record in caplog.records] == []


def test_the_limit_itself_is_served() -> None:
    result, code = answer(rpc(max_nesting=50), nested(50))
    assert code is None
    assert result is not None
    value = result[0]
    for _ in range(50):
        assert isinstance(value, list)
        value = value[0]
    assert value == 1


def test_a_result_too_deep_to_encode_is_a_fault() -> None:
    endpoint = XMLRPC()
    deep: list[object] = []
    for _ in range(5000):
        deep = [deep]
    endpoint.register_function(lambda: deep, name="deep")
    _, code = answer(endpoint, xmlrpc.client.dumps((), "deep").encode())
    assert code == INTERNAL_ERROR


@settings(max_examples=60, deadline=None)
@given(depth=st.integers(0, 40), limit=st.integers(1, 30), struct=st.booleans())
def test_any_depth_parses_within_the_limit_or_is_refused(
    depth: int, limit: int, struct: bool
) -> None:
    document = nested(depth, struct=struct)
    if depth <= limit:
        name, params = decode_call(document, max_nesting=limit)
        assert name == "echo"
        assert len(params) == 1
    else:
        with pytest.raises(xmlrpc.client.Fault) as caught:
            decode_call(document, max_nesting=limit)
        assert caught.value.faultCode == INVALID_REQUEST


@settings(max_examples=60, deadline=None)
@given(depth=st.integers(0, 30), cut=st.integers(0, 2000))
def test_any_truncation_of_a_nested_call_is_a_fault(depth: int, cut: int) -> None:
    document = nested(depth)
    cut = min(cut, len(document) - 1)
    with pytest.raises(xmlrpc.client.Fault):
        decode_call(document[:cut], max_nesting=10)
