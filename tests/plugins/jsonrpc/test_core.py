"""JSON-RPC 2.0 documents in, responses out: the specification's examples and the edges."""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from relays import Component, Event, handler
from relays.testing import Manager
from relays_jsonrpc import (
    INTERNAL_ERROR,
    INVALID_PARAMS,
    INVALID_REQUEST,
    METHOD_NOT_FOUND,
    PARSE_ERROR,
    SERVER_ERROR,
    InvalidParams,
    JSONRPCError,
    JSONRPCLimits,
    JSONRPCLines,
    MethodCall,
)


class Spec(Component):
    """The methods of the specification's examples (section 7)."""

    channel = "rpc"

    def __init__(self) -> None:
        super().__init__()
        self.updates: list[Any] = []
        self.calls: list[str] = []

    def subtract(self, minuend: int, subtrahend: int) -> int:
        return minuend - subtrahend

    def sum(self, *numbers: int) -> int:
        return sum(numbers)

    def update(self, *values: int) -> None:
        self.updates.append(values)

    def foobar(self) -> None:
        self.updates.append("foobar")

    def get_data(self) -> list[Any]:
        return ["hello", 5]

    def notify_hello(self, *values: int) -> None:
        self.updates.append(("hello", values))

    async def slow(self, name: str, delay: float) -> str:
        self.calls.append(f"start {name}")
        await asyncio.sleep(delay)
        self.calls.append(f"end {name}")
        return name

    def fail(self) -> None:
        raise RuntimeError("secret detail")

    def refuse(self, code: int) -> None:
        raise JSONRPCError(code, "refused", {"why": "because"})

    def positive(self, number: int) -> int:
        if number <= 0:
            raise InvalidParams("number must be positive")
        return number

    def bad_error(self) -> None:
        raise JSONRPCError(1, "data that is not JSON", object())

    def unserialisable(self) -> object:
        return object()

    @handler("whoami")
    def whoami(self, event: MethodCall) -> str:
        return type(event.request).__name__


class Everywhere(Component):
    """Handlers on every channel are never methods."""

    channel = "*"

    def danger(self) -> str:
        return "fired"


class App(Manager):
    """A tree with the line protocol (whose processor the tests feed) and the methods."""

    def __init__(self) -> None:
        super().__init__()
        self.lines = JSONRPCLines(channel="lines", limits=JSONRPCLimits(call_timeout=1.0))
        self.spec = Spec()
        self + self.lines + self.spec + Everywhere()


@pytest.fixture
def rpc() -> App:
    return App()


async def ask(rpc: Any, document: Any) -> Any:
    lines = rpc.lines
    data = document if isinstance(document, bytes) else json.dumps(document).encode()
    reply = await lines.processor.handle(data)
    return None if reply is None else json.loads(reply)


def call(method: str, params: Any = None, id: Any = 1) -> dict[str, Any]:
    document: dict[str, Any] = {"jsonrpc": "2.0", "method": method, "id": id}
    if params is not None:
        document["params"] = params
    return document


async def test_positional_parameters(rpc: Any) -> None:
    assert await ask(rpc, call("subtract", [42, 23], 1)) == {
        "jsonrpc": "2.0",
        "result": 19,
        "id": 1,
    }
    assert (await ask(rpc, call("subtract", [23, 42], 2)))["result"] == -19


async def test_named_parameters(rpc: Any) -> None:
    reply = await ask(rpc, call("subtract", {"subtrahend": 23, "minuend": 42}, 3))
    assert reply == {"jsonrpc": "2.0", "result": 19, "id": 3}


async def test_notifications_run_and_get_no_answer(rpc: Any) -> None:
    assert await ask(rpc, {"jsonrpc": "2.0", "method": "update", "params": [1, 2, 3]}) is None
    assert await ask(rpc, {"jsonrpc": "2.0", "method": "foobar"}) is None
    assert rpc.spec.updates == [(1, 2, 3), "foobar"]


async def test_a_failing_or_unknown_notification_is_still_not_answered(rpc: Any) -> None:
    assert await ask(rpc, {"jsonrpc": "2.0", "method": "nope"}) is None
    assert await ask(rpc, {"jsonrpc": "2.0", "method": "fail"}) is None


async def test_method_not_found(rpc: Any) -> None:
    reply = await ask(rpc, call("foobar_missing", id="1"))
    assert reply["error"]["code"] == METHOD_NOT_FOUND
    assert reply["error"]["message"] == "Method not found"
    assert reply["id"] == "1"


async def test_parse_error(rpc: Any) -> None:
    reply = await ask(rpc, b'{"jsonrpc": "2.0", "method": "foobar, "params": "bar", "baz]')
    assert reply["error"]["code"] == PARSE_ERROR
    assert reply["id"] is None


@pytest.mark.parametrize(
    "number", [b"1e99999", b"-1e99999", b"1.5e400", b"NaN", b"Infinity", b"-Infinity"]
)
async def test_numbers_json_cannot_carry_are_a_parse_error(rpc: Any, number: bytes) -> None:
    document = b'{"jsonrpc": "2.0", "method": "sum", "params": [' + number + b'], "id": 1}'
    reply = await ask(rpc, document)
    assert reply["error"]["code"] == PARSE_ERROR


async def test_large_finite_numbers_still_arrive(rpc: Any) -> None:
    reply = await ask(rpc, b'{"jsonrpc": "2.0", "method": "sum", "params": [1e308, 2.5], "id": 1}')
    assert reply["result"] == 1e308 + 2.5


@pytest.mark.parametrize(
    "document",
    [
        {"jsonrpc": "2.0", "method": 1, "params": "bar"},
        {"jsonrpc": "1.0", "method": "sum", "id": 1},
        {"method": "sum", "id": 1},
        {"jsonrpc": "2.0", "method": "sum", "params": 5, "id": 1},
        {"jsonrpc": "2.0", "method": "sum", "id": True},
        {"jsonrpc": "2.0", "method": "sum", "id": {"a": 1}},
        "just a string",
        5,
    ],
)
async def test_invalid_requests(rpc: Any, document: Any) -> None:
    reply = await ask(rpc, document)
    assert reply["error"]["code"] == INVALID_REQUEST
    assert reply["error"]["message"] == "Invalid Request"


async def test_an_invalid_request_keeps_its_valid_id(rpc: Any) -> None:
    reply = await ask(rpc, {"jsonrpc": "1.0", "method": "sum", "id": 7})
    assert reply["id"] == 7
    reply = await ask(rpc, {"jsonrpc": "2.0", "method": "sum", "id": [7]})
    assert reply["id"] is None


async def test_batch_with_invalid_json(rpc: Any) -> None:
    document = b'[{"jsonrpc": "2.0", "method": "sum", "params": [1,2,4], "id": "1"},'
    document += b'{"jsonrpc": "2.0", "method"]'
    reply = await ask(rpc, document)
    assert reply["error"]["code"] == PARSE_ERROR


async def test_empty_batch_is_one_error_not_a_list(rpc: Any) -> None:
    reply = await ask(rpc, [])
    assert reply["error"]["code"] == INVALID_REQUEST
    assert reply["id"] is None


async def test_batch_of_invalid_items(rpc: Any) -> None:
    assert await ask(rpc, [1]) == [
        {
            "jsonrpc": "2.0",
            "error": {"code": -32600, "message": "Invalid Request", "data": ANY_TEXT},
            "id": None,
        }
    ]
    reply = await ask(rpc, [1, 2, 3])
    assert [item["error"]["code"] for item in reply] == [INVALID_REQUEST] * 3


class _AnyText:
    def __eq__(self, other: object) -> bool:
        return isinstance(other, str)


ANY_TEXT: Any = _AnyText()


async def test_the_specification_batch(rpc: Any) -> None:
    reply = await ask(
        rpc,
        [
            {"jsonrpc": "2.0", "method": "sum", "params": [1, 2, 4], "id": "1"},
            {"jsonrpc": "2.0", "method": "notify_hello", "params": [7]},
            {"jsonrpc": "2.0", "method": "subtract", "params": [42, 23], "id": "2"},
            {"foo": "boo"},
            {"jsonrpc": "2.0", "method": "foo.get", "params": {"name": "myself"}, "id": "5"},
            {"jsonrpc": "2.0", "method": "get_data", "id": "9"},
        ],
    )
    by_id = {item["id"]: item for item in reply}
    assert len(reply) == 5
    assert by_id["1"]["result"] == 7
    assert by_id["2"]["result"] == 19
    assert by_id[None]["error"]["code"] == INVALID_REQUEST
    assert by_id["5"]["error"]["code"] == METHOD_NOT_FOUND
    assert by_id["9"]["result"] == ["hello", 5]


async def test_a_batch_of_only_notifications_gets_nothing(rpc: Any) -> None:
    document = [
        {"jsonrpc": "2.0", "method": "notify_sum", "params": [1, 2, 4]},
        {"jsonrpc": "2.0", "method": "notify_hello", "params": [7]},
    ]
    assert await ask(rpc, document) is None


async def test_a_batch_runs_its_calls_concurrently(rpc: Any) -> None:
    document = [call("slow", ["a", 0.2], 1), call("slow", ["b", 0.2], 2)]
    started = asyncio.get_running_loop().time()
    reply = await ask(rpc, document)
    assert asyncio.get_running_loop().time() - started < 0.35
    assert {item["id"]: item["result"] for item in reply} == {1: "a", 2: "b"}
    assert rpc.spec.calls[:2] == ["start a", "start b"]


async def test_wrong_arguments_are_invalid_params_and_the_method_does_not_run(rpc: Any) -> None:
    for params in ([1], [1, 2, 3], {"minuend": 1, "nope": 2}):
        reply = await ask(rpc, call("subtract", params))
        assert reply["error"]["code"] == INVALID_PARAMS
        assert reply["error"]["message"] == "Invalid params"


async def test_a_method_may_raise_invalid_params(rpc: Any) -> None:
    reply = await ask(rpc, call("positive", [-1]))
    assert reply["error"] == {"code": INVALID_PARAMS, "message": "number must be positive"}


async def test_application_errors_keep_code_message_and_data(
    rpc: Any, caplog: pytest.LogCaptureFixture
) -> None:
    reply = await ask(rpc, call("refuse", [4001], "x"))
    assert "refused" not in caplog.text, "an error answer is not a failure to log"
    assert reply == {
        "jsonrpc": "2.0",
        "error": {"code": 4001, "message": "refused", "data": {"why": "because"}},
        "id": "x",
    }


class _Seen(logging.Handler):
    """Sets *seen* once a record containing *text* is emitted (the kernel reports a
    handler's error after the caller has its answer: on 3.12+, a loop turn later)."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text
        self.seen = asyncio.Event()

    def emit(self, record: logging.LogRecord) -> None:
        if self.text in record.getMessage():
            self.seen.set()


async def test_other_errors_are_internal_and_tell_nothing(rpc: Any) -> None:
    watcher = _Seen("secret detail")
    logging.getLogger().addHandler(watcher)
    try:
        reply = await ask(rpc, call("fail"))
        assert reply["error"] == {"code": INTERNAL_ERROR, "message": "Internal error"}
        assert "secret detail" not in json.dumps(reply)
        await asyncio.wait_for(watcher.seen.wait(), 5)  # the error is logged, server-side
    finally:
        logging.getLogger().removeHandler(watcher)


async def test_debug_errors_carry_the_traceback() -> None:
    lines = JSONRPCLines(channel="lines", debug=True)
    async with Manager() + lines + Spec():
        reply = json.loads(await lines.processor.handle(json.dumps(call("fail")).encode()))  # type: ignore[arg-type]
    assert reply["error"]["data"]["message"] == "secret detail"
    assert "RuntimeError" in "".join(reply["error"]["data"]["traceback"])


async def test_a_result_that_is_not_json_is_an_internal_error(rpc: Any) -> None:
    reply = await ask(rpc, call("unserialisable"))
    assert reply["error"]["code"] == INTERNAL_ERROR


async def test_an_error_whose_data_is_not_json_is_an_internal_error(rpc: Any) -> None:
    reply = await ask(rpc, call("bad_error"))
    assert reply["error"]["code"] == INTERNAL_ERROR


async def test_a_method_that_takes_too_long_is_a_server_error(rpc: Any) -> None:
    reply = await ask(rpc, call("slow", ["late", 5]))
    assert reply["error"]["code"] == SERVER_ERROR
    assert "1.0 s" in reply["error"]["data"]


async def test_handlers_on_every_channel_and_rpc_names_are_not_methods(rpc: Any) -> None:
    for name in ("danger", "started", "rpc.discover", "registered"):
        reply = await ask(rpc, call(name))
        assert reply["error"]["code"] == METHOD_NOT_FOUND, name


async def test_the_event_carries_where_the_call_came_from(rpc: Any) -> None:
    lines = rpc.lines
    reply = await lines.processor.handle(json.dumps(call("whoami")).encode(), request=Event())
    assert json.loads(reply)["result"] == "Event"  # type: ignore[arg-type]


async def test_registered_functions_sync_and_async_with_dotted_names(rpc: Any) -> None:
    lines = rpc.lines

    @lines.register_function(name="math.add")
    def add(a: int, b: int) -> int:
        return a + b

    async def echo(value: Any) -> Any:
        await asyncio.sleep(0)
        return value

    lines.register_function(echo)
    assert (await ask(rpc, call("math.add", [1, 2])))["result"] == 3
    assert (await ask(rpc, call("echo", {"value": [1, None]})))["result"] == [1, None]
    assert (await ask(rpc, call("math.add", [1])))["error"]["code"] == INVALID_PARAMS


async def test_components_joining_later_are_found(rpc: Any) -> None:
    root = rpc

    class Late(Component):
        channel = "rpc"

        def late(self) -> str:
            return "here"

    assert (await ask(rpc, call("late")))["error"]["code"] == METHOD_NOT_FOUND
    late = Late().register(root)
    assert (await ask(rpc, call("late")))["result"] == "here"
    late.unregister()
    assert (await ask(rpc, call("late")))["error"]["code"] == METHOD_NOT_FOUND


async def test_batches_over_the_limit_are_refused() -> None:
    lines = JSONRPCLines(channel="lines", limits=JSONRPCLimits(max_batch_size=2))
    async with Manager() + lines + Spec():
        document = json.dumps([call("sum", [1], n) for n in range(3)]).encode()
        reply = json.loads(await lines.processor.handle(document))  # type: ignore[arg-type]
    assert reply["error"]["code"] == INVALID_REQUEST


def test_limits_are_validated() -> None:
    with pytest.raises(ValueError, match="max_batch_size"):
        JSONRPCLimits(max_batch_size=0)


def test_error_codes_are_integers() -> None:
    with pytest.raises(TypeError):
        JSONRPCError("1", "x")  # type: ignore[arg-type]
    assert repr(JSONRPCError(1, "x")) == "JSONRPCError(1, 'x')"


ids = st.one_of(st.none(), st.integers(-(10**6), 10**6), st.text(max_size=8))
requests = st.fixed_dictionaries(
    {"jsonrpc": st.just("2.0"), "method": st.sampled_from(["sum", "nope", "subtract"])},
    optional={"params": st.lists(st.integers(-5, 5), max_size=3), "id": ids},
)


def ask_fresh(document: Any) -> Any:
    """Ask a freshly started tree, on a loop of its own (hypothesis runs plain tests)."""

    async def run() -> Any:
        async with App() as app:
            return await ask(app, document)

    return asyncio.run(run())


@settings(max_examples=60, deadline=None)
@given(batch=st.lists(requests, min_size=1, max_size=8, unique_by=lambda r: repr(r.get("id"))))
def test_each_id_of_a_batch_is_answered_once(batch: list[Any]) -> None:
    reply = ask_fresh(batch)
    expected = sorted(repr(item["id"]) for item in batch if "id" in item)
    if not expected:
        assert reply is None
        return
    assert sorted(repr(item["id"]) for item in reply) == expected
    for item in reply:
        assert item["jsonrpc"] == "2.0"
        assert ("result" in item) != ("error" in item)


@settings(max_examples=200, deadline=None)
@given(data=st.one_of(st.binary(max_size=200), st.text(max_size=200).map(str.encode)))
def test_any_bytes_give_a_well_formed_answer(data: bytes) -> None:
    reply = ask_fresh(data)
    items = reply if isinstance(reply, list) else [] if reply is None else [reply]
    for item in items:
        assert item["jsonrpc"] == "2.0"
        assert "id" in item
        if "error" in item:
            assert isinstance(item["error"]["code"], int)
            assert isinstance(item["error"]["message"], str)
