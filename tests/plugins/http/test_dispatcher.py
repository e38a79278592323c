"""The Dispatcher: mount table, longest-prefix resolution, claiming and falling through."""

from __future__ import annotations

import logging
from typing import Any

import h11
import pytest

from relays import Component, handler
from relays.testing import MemoryClient, MemoryTransport
from relays_http import BaseServer, Request, Response
from relays_http._controllers import Controller
from relays_http._dispatcher import DISPATCH_PATH, Dispatcher, split_path


async def ask(
    client: MemoryClient, method: str, target: str, *, headers: str = "", body: bytes = b""
) -> tuple[int, dict[str, str], bytes]:
    """Send one request on *client* and parse the one response (h11 as the peer)."""
    length = f"Content-Length: {len(body)}\r\n" if body else ""
    head = f"{method} {target} HTTP/1.1\r\nHost: test\r\n{length}{headers}\r\n"
    client.send(head.encode() + body)
    peer = h11.Connection(h11.CLIENT)
    peer.send(h11.Request(method=method, target=target, headers=[("Host", "test")]))
    peer.send(h11.EndOfMessage())
    status, fields, content = 0, {}, b""
    while True:
        event = peer.next_event()
        if event is h11.NEED_DATA:
            await client.wait()
            peer.receive_data(client.take())
        elif isinstance(event, h11.Response):
            status = event.status_code
            fields = {name.decode(): value.decode() for name, value in event.headers}
        elif isinstance(event, h11.Data):
            content += event.data
        elif isinstance(event, h11.EndOfMessage):
            return status, fields, content


def serve(*apps: Any, **options: Any) -> tuple[BaseServer, MemoryTransport]:
    transport = MemoryTransport(channel="web")
    server = BaseServer(transport=transport, **options) + Dispatcher()
    for app in apps:
        server += app
    return server, transport


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
        client = transport.connect()
        assert (await ask(client, "GET", "/"))[2] == b"root:"
        assert (await ask(client, "GET", "/x/y"))[2] == b"root:x/y"
        assert (await ask(client, "GET", "/blog"))[2] == b"blog"
        assert (await ask(client, "GET", "/blog/"))[2] == b"blog"
        assert (await ask(client, "GET", "/blog/post/hi%20there"))[2] == b"post:hi there"
        assert (await ask(client, "GET", "/blog/archive/2024/5"))[2] == b"archive:5"
        # /blog/archive is not mounted and not a page of Blog: nothing fits.
        assert (await ask(client, "GET", "/blog/archive"))[0] == 404
        assert (await ask(client, "GET", "/blog/archive/2024/may"))[0] == 404


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
        client = transport.connect()
        assert (await ask(client, "GET", "/blog"))[2] == b"blog"
        assert (await ask(client, "GET", "/other"))[2] == b"fallback:/other"
        # The arguments do not fit Blog.post: not the dispatcher's, so it falls through.
        assert (await ask(client, "GET", "/blog/post"))[2] == b"fallback:/blog/post"


async def test_no_controller_is_a_404() -> None:
    server, transport = serve()
    async with server:
        assert (await ask(transport.connect(), "GET", "/"))[0] == 404


async def test_controllers_registered_later_are_mounted() -> None:
    server, transport = serve(Root())
    async with server:
        client = transport.connect()
        assert (await ask(client, "GET", "/blog"))[2] == b"root:blog"
        blog = Blog().register(server)
        await ask(client, "GET", "/")  # let the registered event be dispatched
        assert (await ask(client, "GET", "/blog"))[2] == b"blog"
        blog.unregister()
        await ask(client, "GET", "/")
        assert (await ask(client, "GET", "/blog"))[2] == b"root:blog"


async def test_nested_controllers_are_mounted_by_their_own_channel() -> None:
    server, transport = serve(Root() + Blog())
    async with server:
        assert (await ask(transport.connect(), "GET", "/blog/post/x"))[2] == b"post:x"


async def test_two_controllers_on_one_path_are_reported(
    caplog: pytest.LogCaptureFixture,
) -> None:
    server, transport = serve(Blog())
    with caplog.at_level(logging.ERROR):
        async with server:
            Blog().register(server)
            await ask(transport.connect(), "GET", "/blog")
    assert "two controllers are mounted at '/blog'" in caplog.text


def test_controller_channel_must_be_a_path() -> None:
    with pytest.raises(ValueError, match="mounted at"):
        Root(channel="web")


async def test_dispatch_path_in_the_context_overrides_the_path() -> None:
    class Rewrite(Component):
        channel = "web"

        @handler("request", priority=20)
        def rewrite(self, request: Request, response: Response) -> None:
            request.context[DISPATCH_PATH] = "/blog" + request.raw_path

    server, transport = serve(Blog(), Rewrite())
    async with server:
        assert (await ask(transport.connect(), "GET", "/post/a"))[2] == b"post:a"


def test_dispatchers_are_found_through_the_plugin_hook() -> None:
    from relays_http import Gateway, VirtualHosts, plugin

    assert plugin.relays_dispatcher(name="default") is Dispatcher
    assert plugin.relays_dispatcher(name="virtualhosts") is VirtualHosts
    assert plugin.relays_dispatcher(name="wsgi") is Gateway
    assert plugin.relays_dispatcher(name="static") is None
    names = {(item.kind, item.name) for item in plugin.relays_provides()}
    assert {("dispatcher", "default"), ("dispatcher", "wsgi")} <= names
