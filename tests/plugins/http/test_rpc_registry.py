"""relays_http.rpc: the one method registry both RPC plugins use."""

from __future__ import annotations

import functools
from typing import Any

import pytest

from relays import BaseComponent, Component, handler
from relays.testing import Manager, drain
from relays_http.rpc import MethodCall, RPCMethods


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
