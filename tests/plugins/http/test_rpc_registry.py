"""relays_http.rpc: the one method registry both RPC plugins use."""

from __future__ import annotations

import functools
from typing import Any

import pytest

from relays import BaseComponent, Component, handler
from relays.testing import Manager, drain
from relays_http import HTTPError, Request, Response, UnsupportedMediaType
from relays_http.rpc import MethodCall, RPCComponent, RPCEndpoint, RPCMethods
from relays_http.testing import Client, memory_server


class Maths(Component):
    channel = "rpc"

    def add(self, a: int, b: int) -> int:
        """Add two numbers."""
        return a + b

    @handler("math.who")
    def who(self, event: MethodCall) -> Any:
        return event.request

    @handler("everywhere", channel="*")
    def everywhere(self) -> str:
        return "not a method"


class Owner(BaseComponent):
    """Stands for a dispatcher: owns a registry and tells it when the tree changes."""

    def __init__(self) -> None:
        super().__init__()
        self.methods = RPCMethods(self, "rpc")

    @handler("registered", "unregistered", channel="*")
    def _on_tree_changed(self, component: BaseComponent, parent: BaseComponent) -> None:
        self.methods.forget()


def test_both_plugins_share_one_registry_and_one_event_class() -> None:
    import relays_jsonrpc
    import relays_xmlrpc

    assert relays_jsonrpc.MethodCall is MethodCall
    assert relays_xmlrpc.MethodCall is MethodCall
    assert relays_jsonrpc.JSONRPC().methods.__class__ is RPCMethods
    assert relays_xmlrpc.XMLRPC().methods.__class__ is RPCMethods


async def test_handlers_on_the_rpc_channel_are_methods_and_others_are_not() -> None:
    owner = Owner()
    async with Manager() + owner + Maths():
        methods = owner.methods
        assert methods.names() == ["add", "math.who"]
        assert methods.find("everywhere") is None
        add = methods.find("add")
        assert add is not None
        assert add.help() == "Add two numbers."
        assert await methods.invoke(add, [2, 3]) == 5
        assert await methods.invoke(add, [], {"a": 1, "b": 2}) == 3
        who = methods.find("math.who")
        assert who is not None
        assert who.check(()) is None  # the event parameter is not the client's
        assert await methods.invoke(who, (), request="the request") == "the request"


async def test_arguments_are_checked_before_the_call() -> None:
    owner = Owner()
    async with Manager() + owner + Maths():
        add = owner.methods.find("add")
        assert add is not None
        assert add.check([1]) is not None
        assert add.check([1, 2]) is None
        assert add.check([], {"a": 1, "c": 2}) is not None


async def test_registered_functions_win_and_need_a_name() -> None:
    owner = Owner()
    owner.methods.register(lambda a, b: a * b, "add")

    async def echo(value: str) -> str:
        return value

    owner.methods.register(echo)
    async with Manager() + owner + Maths():
        add = owner.methods.find("add")
        assert add is not None
        assert add.function is not None
        assert await owner.methods.invoke(add, [2, 3]) == 6
        found = owner.methods.find("echo")
        assert found is not None
        assert await owner.methods.invoke(found, ["hi"]) == "hi"
    with pytest.raises(ValueError, match="give a name"):
        owner.methods.register(functools.partial(print, "x"))


async def test_the_table_follows_components_joining_and_leaving() -> None:
    owner = Owner()
    async with Manager() + owner as manager:
        assert owner.methods.find("add") is None
        maths = Maths().register(manager)
        # Found even before ``registered`` has run: the tree's size changed.
        assert owner.methods.find("add") is not None
        maths.unregister()
        await drain(manager)
        assert owner.methods.find("add") is None


class Echo(RPCEndpoint):
    """A wire format of its own: the body is a method name, the answer its result."""

    protocol = "Echo-RPC"
    media_types = ("text/plain", "text/x-echo")

    @property
    def max_request_size(self) -> int:
        return 16

    def check_request(self, request: Request) -> HTTPError | None:
        if request.header(b"x-refuse") is not None:
            return UnsupportedMediaType("refused by the format")
        return None

    async def answer(self, request: Request) -> Response:
        method = self.methods.find((await request.read()).decode())
        if method is None:
            return Response(b"no such method", status=404)
        return Response(str(await self.methods.invoke(method, (2, 3))).encode())


class Fallback(Component):
    channel = "web"

    def request(self, request: Request, response: Response) -> str:
        return "not the endpoint's"


async def test_an_endpoint_claims_its_path_checks_http_and_answers_in_its_format() -> None:
    endpoint = Echo("/echo")
    endpoint.register_function(lambda a, b: a * b, name="times")
    server, transport = memory_server(endpoint, Maths(), Fallback())
    async with server:
        client = Client(transport)
        plain = {"content-type": "text/plain"}
        assert (await client.post("/echo", b"add", headers=plain)).body == b"5"
        assert (await client.post("/echo", b"times", headers=plain)).body == b"6"
        other = await client.post("/echo", b"add", headers={"content-type": "text/x-echo"})
        assert other.body == b"5"
        assert (await client.post("/echo", b"nothing", headers=plain)).status == 404
        assert (await client.get("/elsewhere")).body == b"not the endpoint's"
        refused = await client.get("/echo")
        assert (refused.status, refused.headers.get("allow")) == (405, "POST")
        assert (
            await client.post("/echo", b"add", headers={"content-type": "text/html"})
        ).status == 415
        extra = await client.post("/echo", b"add", headers={**plain, "x-refuse": "1"})
        assert extra.status == 415
        assert (await client.post("/echo", b"x" * 17, headers=plain)).status == 413


def test_an_endpoint_path_starts_with_a_slash() -> None:
    with pytest.raises(ValueError, match="must start with '/'"):
        Echo("echo")


async def test_rpc_components_keep_their_registry_in_step_with_the_tree() -> None:
    class Lines(RPCComponent):
        """Stands for a server of calls that come over something other than HTTP."""

    lines = Lines(channel="lines", rpc_channel="rpc")
    async with Manager() + lines as manager:
        maths = Maths().register(manager)
        await drain(manager)
        assert lines.methods.find("add") is not None
        maths.unregister()
        await drain(manager)
        # Gone although the table was read while it was there: ``unregistered`` told it.
        assert lines.methods.find("add") is None
