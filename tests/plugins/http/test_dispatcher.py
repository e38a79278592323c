"""The Dispatcher: mount table, longest-prefix resolution, claiming and falling through."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from relays import Component, handler
from relays.testing import MemoryTransport
from relays_http import BaseServer, Request, Response, Server
from relays_http._controllers import Controller
from relays_http._dispatcher import Dispatcher, split_path
from relays_http.testing import Client, memory_server


def serve(*apps: Any, **options: Any) -> tuple[BaseServer, MemoryTransport]:
    return memory_server(Dispatcher(), *apps, **options)


class Root(Controller):
    def index(self, *segments: str) -> str:
        return "root:" + "/".join(segments)


class Blog(Controller):
    channel = "/blog"

    def index(self) -> str:
        return "blog"

    def post(self, slug: str) -> str:
        return f"post:{slug}"


class Deep(Controller):
    channel = "/blog/archive/2024/"

    def index(self, month: int) -> str:
        return f"archive:{month}"


class Fallback(Component):
    channel = "web"

    def request(self, request: Request, response: Response) -> str:
        return f"fallback:{request.path}"


@pytest.mark.parametrize(
    ("raw", "segments"),
    [
        ("/", []),
        ("//a///b/", ["a", "b"]),
        ("/a%20b/c%2Fd", ["a b", "c/d"]),
        ("/caf%C3%A9", ["café"]),
    ],
)
def test_split_path(raw: str, segments: list[str]) -> None:
    assert split_path(raw) == segments


async def test_longest_prefix_wins() -> None:
    server, transport = serve(Root(), Blog(), Deep())
    async with server:
        client = Client(transport)
        assert (await client.request("GET", "/")).body == b"root:"
        assert (await client.request("GET", "/x/y")).body == b"root:x/y"
        assert (await client.request("GET", "/blog")).body == b"blog"
        assert (await client.request("GET", "/blog/")).body == b"blog"
        assert (await client.request("GET", "/blog/post/hi%20there")).body == b"post:hi there"
        assert (await client.request("GET", "/blog/archive/2024/5")).body == b"archive:5"
        # /blog/archive is not mounted and not a page of Blog: nothing fits.
        assert (await client.request("GET", "/blog/archive")).status == 404
        assert (await client.request("GET", "/blog/archive/2024/may")).status == 404


async def test_resolve_and_mounts() -> None:
    dispatcher = Dispatcher()
    root = Component() + dispatcher + Root() + Blog() + Deep()
    dispatcher.remount()
    assert sorted(dispatcher.mounts) == ["", "/blog", "/blog/archive/2024"]
    found = dispatcher.resolve("/blog/archive/2024/5/extra")
    assert found is not None
    assert (found[0].channel, found[1]) == ("/blog/archive/2024/", ["5", "extra"])
    assert root is not None


async def test_unmatched_requests_fall_through_to_plain_handlers() -> None:
    server, transport = serve(Blog(), Fallback())
    async with server:
        client = Client(transport)
        assert (await client.request("GET", "/blog")).body == b"blog"
        assert (await client.request("GET", "/other")).body == b"fallback:/other"
        # The arguments do not fit Blog.post: not the dispatcher's, so it falls through.
        assert (await client.request("GET", "/blog/post")).body == b"fallback:/blog/post"


async def test_no_controller_is_a_404() -> None:
    server, transport = serve()
    async with server:
        assert (await Client(transport).request("GET", "/")).status == 404


async def test_controllers_registered_later_are_mounted() -> None:
    server, transport = serve(Root())
    async with server:
        client = Client(transport)
        assert (await client.request("GET", "/blog")).body == b"root:blog"
        blog = Blog().register(server)
        await client.request("GET", "/")  # let the registered event be dispatched
        assert (await client.request("GET", "/blog")).body == b"blog"
        blog.unregister()
        await client.request("GET", "/")
        assert (await client.request("GET", "/blog")).body == b"root:blog"


async def test_nested_controllers_are_mounted_by_their_own_channel() -> None:
    server, transport = serve(Root() + Blog())
    async with server:
        assert (await Client(transport).request("GET", "/blog/post/x")).body == b"post:x"


async def test_two_controllers_on_one_path_are_reported(
    caplog: pytest.LogCaptureFixture,
) -> None:
    server, transport = serve(Blog())
    with caplog.at_level(logging.ERROR):
        async with server:
            Blog().register(server)
            await Client(transport).request("GET", "/blog")
    assert "two controllers are mounted at '/blog'" in caplog.text


def test_controller_channel_must_be_a_path() -> None:
    with pytest.raises(ValueError, match="mounted at"):
        Root(channel="web")


async def test_a_rewritten_path_is_dispatched() -> None:
    class Rewrite(Component):
        channel = "web"

        @handler("request", priority=20)
        def rewrite(self, request: Request, response: Response) -> None:
            request.rewrite(path="/blog" + request.raw_path)

    server, transport = serve(Blog(), Rewrite())
    async with server:
        assert (await Client(transport).request("GET", "/post/a")).body == b"post:a"


def test_dispatchers_are_found_through_the_plugin_hook() -> None:
    from relays_http import Gateway, VirtualHosts, plugin

    assert plugin.relays_dispatcher(name="default") is Dispatcher
    assert plugin.relays_dispatcher(name="virtualhosts") is VirtualHosts
    assert plugin.relays_dispatcher(name="wsgi") is Gateway
    assert plugin.relays_dispatcher(name="static") is None
    names = {(item.kind, item.name) for item in plugin.relays_provides()}
    assert {("dispatcher", "default"), ("dispatcher", "wsgi")} <= names


async def test_server_has_a_dispatcher_and_plain_handlers_still_answer() -> None:
    transport = MemoryTransport(channel="web")
    server = Server(transport=transport) + Root() + Blog() + Fallback()
    assert isinstance(server.dispatcher, Dispatcher)
    bare = BaseServer(transport=MemoryTransport(channel="web"))
    assert not any(isinstance(child, Dispatcher) for child in bare.walk())
    async with server:
        client = Client(transport)
        assert (await client.get("/")).body == b"root:"
        assert (await client.get("/blog")).body == b"blog"
        assert (await client.get("/blog/post")).body == b"fallback:/blog/post"


async def test_server_with_its_own_dispatcher_dispatches_once() -> None:
    calls: list[str] = []

    class Counted(Controller):
        def index(self) -> None:
            calls.append("index")  # None: not found, so every dispatcher would try

    transport = MemoryTransport(channel="web")
    server = Server(transport=transport) + Dispatcher() + Counted()
    async with server:
        assert (await Client(transport).get("/")).status == 404
    assert calls == ["index"]
    assert server.dispatcher.mounts == {}


async def test_a_dispatcher_with_nothing_mounted_handles_no_request() -> None:
    """Its ``request`` handler is in the tree only while a controller is mounted:
    a plain ``request`` app pays nothing for the Server's dispatcher."""

    def dispatching(server: Server) -> bool:
        owners = [h.owner for h in server.handlers("request", "web")]
        return any(owner.parent is server.dispatcher for owner in owners)

    transport = MemoryTransport(channel="web")
    server = Server(transport=transport) + Fallback()
    async with server:
        client = Client(transport)
        assert (await client.get("/blog")).body == b"fallback:/blog"
        assert not dispatching(server)
        blog = Blog().register(server)
        await client.get("/")  # let the registered event be dispatched
        assert dispatching(server)
        assert (await client.get("/blog")).body == b"blog"
        blog.unregister()
        await client.get("/")
        assert not dispatching(server)
        assert (await client.get("/blog")).body == b"fallback:/blog"
    transport = MemoryTransport(channel="web")
    async with Server(transport=transport):
        assert (await Client(transport).get("/")).status == 404
