"""Requests the site takes at their head: the same answers as on relays-http's usual path.

Each tree is served twice, on an in-memory server where the site takes requests at
their head and on one where a ``request`` watcher above it makes every request go the
usual way; every answer must be the same but for its ``Date``.
"""

from __future__ import annotations

import asyncio
import logging
import pathlib
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from relays import BaseComponent, Priority, handler
from relays_http import HTTPError, Redirect, Request, Response
from relays_http.testing import Client, memory_server
from relays_resources import NOT_DONE_YET, File, Resource, ResourceRequest, Site
from relays_resources import Redirect as ResourceRedirect


class Watcher(BaseComponent):
    """A ``request`` handler above the site: relays-http then offers no heads."""

    channel = "web"

    @handler("request", priority=Priority.ROUTE)
    def _watch(self, request: Request, response: Response) -> None:
        pass


class Leaf(Resource):
    """Renders with *render* (given the request), noting how it was served."""

    isLeaf = True

    def __init__(self, render: Any) -> None:
        super().__init__()
        self.rendered = render
        self.taken: list[bool] = []

    def render_GET(self, request: ResourceRequest) -> Any:
        # A request taken at its head has a Request made from the head: no connection.
        self.taken.append(request.http.sock is None)
        return self.rendered(request)


class Counted(Resource):
    """Children made on the fly (``getChild``), counted: a walk must happen once."""

    def __init__(self, leaf: Resource) -> None:
        super().__init__()
        self.leaf = leaf
        self.walks = 0

    def getChild(self, path: bytes, request: ResourceRequest) -> Resource:
        self.walks += 1
        return self.leaf


def fields(request: ResourceRequest) -> bytes:
    request.setHeader(b"X-A", b"1")
    request.setHeader("x-b", "2")
    request.setHeader(b"x-a", b"3")  # replaces X-A in its place
    request.setHeader(b"Content-Type", b"text/plain")
    request.setResponseCode(201, b"Made")
    return b"fields"


def cookie(request: ResourceRequest) -> bytes:
    request.setHeader(b"X-Before", b"yes")
    request.addCookie("k", "v", path="/")
    request.setHeader(b"X-After", b"yes")
    return b"cookie"


def empty(request: ResourceRequest) -> bytes:
    request.setResponseCode(204)
    return b"dropped"


def unsendable(request: ResourceRequest) -> bytes:
    request.setHeader("X-U", "\u20ac")  # not Latin-1: relays-http refuses the head
    return b"never"


def later(request: ResourceRequest) -> object:
    request.setHeader(b"Content-Type", b"text/plain")
    request.setResponseCode(202)
    request.write(b"first ")

    def rest() -> None:
        request.write(b"second")
        request.finish()

    asyncio.get_running_loop().call_soon(rest)
    return NOT_DONE_YET


def waits(request: ResourceRequest) -> object:
    async def answer() -> bytes:
        await asyncio.sleep(0)
        request.setHeader(b"X-Waited", b"1")
        return b"waited"

    return answer()


def teapot(request: ResourceRequest) -> bytes:
    request.setHeader(b"X-Lost", b"yes")
    raise HTTPError(418, "short and stout")


def login(request: ResourceRequest) -> bytes:
    request.addCookie("user", "fred")
    raise Redirect("/home")  # the cookie survives the redirect


def fails(request: ResourceRequest) -> bytes:
    raise RuntimeError("a bug")


def answer(request: ResourceRequest) -> Response:
    return Response(b"relays-http's own", 203, headers={"X-Own": "1"})


def build(tmp: pathlib.Path) -> tuple[Resource, dict[str, Any]]:
    (tmp / "page.txt").write_bytes(b"a file\n")
    leaves = {
        "plain": Leaf(lambda request: b"plain"),
        "fields": Leaf(fields),
        "cookie": Leaf(cookie),
        "empty": Leaf(empty),
        "unsendable": Leaf(unsendable),
        "later": Leaf(later),
        "waits": Leaf(waits),
        "teapot": Leaf(teapot),
        "login": Leaf(login),
        "fails": Leaf(fails),
        "answer": Leaf(answer),
    }
    root = Resource()
    for name, leaf in leaves.items():
        root.putChild(name.encode(), leaf)
    root.putChild(b"files", File(tmp))
    root.putChild(b"away", ResourceRedirect(b"/plain"))
    counted = Counted(Leaf(later))
    root.putChild(b"made", counted)
    return root, {**leaves, "made": counted}


REQUESTS = [
    ("GET", "/plain"),
    ("HEAD", "/plain"),
    ("GET", "/plain?x=1"),
    ("GET", "/fields"),
    ("GET", "/cookie"),
    ("GET", "/empty"),
    ("GET", "/unsendable"),
    ("GET", "/later"),
    ("HEAD", "/later"),
    ("GET", "/waits"),
    ("GET", "/teapot"),
    ("GET", "/login"),
    ("GET", "/fails"),
    ("GET", "/answer"),
    ("GET", "/files/page.txt"),
    ("GET", "/files"),
    ("GET", "/away"),
    ("GET", "/nothing/here"),
    ("POST", "/plain"),
    ("DELETE", "/plain"),
    ("GET", "/made/anything"),
]


def comparable(answer: Any) -> tuple[Any, ...]:
    fields = [(name, value) for name, value in answer.headers.allitems() if name != "date"]
    return answer.status, answer.reason, fields, answer.body


async def answers(tree: Resource, *, taken: bool) -> list[tuple[Any, ...]]:
    apps: list[BaseComponent] = [Site(tree)]
    if not taken:
        apps.append(Watcher())
    server, transport = memory_server(*apps)
    async with server:
        client = Client(transport)
        return [comparable(await client.request(method, target)) for method, target in REQUESTS]


@pytest.fixture
def quiet_errors(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    with caplog.at_level(logging.CRITICAL):
        yield


@pytest.mark.usefixtures("quiet_errors")
async def test_taken_requests_are_answered_as_on_the_usual_path(tmp_path: pathlib.Path) -> None:
    usual_tree, usual = build(tmp_path)
    taken_tree, taken = build(tmp_path)
    expected = await answers(usual_tree, taken=False)
    got = await answers(taken_tree, taken=True)
    for request, want, have in zip(REQUESTS, expected, got, strict=True):
        assert have == want, request
    # The usual path never took a request; the other took those it could.
    assert not any(any(leaf.taken) for leaf in usual.values() if isinstance(leaf, Leaf))
    assert taken["plain"].taken == [True, True, True]
    assert taken["later"].taken == [True, True]  # rendered taken, then handed back
    # A request handed back is walked and rendered once.
    assert taken["made"].walks == usual["made"].walks == 1
    assert taken["made"].leaf.taken == [True]


async def test_a_body_a_handler_above_or_another_channel_leaves_requests_to_the_usual_path() -> (
    None
):
    leaf = Leaf(lambda request: b"name=" + request.args[b"name"][0])
    leaf.render_POST = leaf.render_GET  # type: ignore[method-assign]
    server, transport = memory_server(Site(leaf))
    async with server:
        client = Client(transport)
        assert (await client.post("/?name=a", b"x=1")).body == b"name=a"  # a body
        assert (await client.get("/?name=b")).body == b"name=b"
    assert leaf.taken == [False, True]
    server, transport = memory_server(Site(leaf), Watcher())
    async with server:
        assert (await Client(transport).get("/?name=c")).body == b"name=c"
    assert leaf.taken[-1] is False
    server, transport = memory_server(Site(leaf, channel="elsewhere"))
    async with server:
        assert (await Client(transport).get("/")).status == 404  # not the site's server


NAMES = st.sampled_from(["X-A", "x-a", "X-B", "content-type", "Content-Type", "x-c"])
VALUES = st.sampled_from(["1", "two", "text/plain", ""])


@settings(max_examples=40, deadline=None)
@given(sets=st.lists(st.tuples(NAMES, VALUES, st.booleans()), max_size=6))
def test_fields_set_on_a_taken_request_go_out_as_on_the_usual_path(
    sets: list[tuple[str, str, bool]],
) -> None:
    def render(request: ResourceRequest) -> bytes:
        for name, value, as_bytes in sets:
            if as_bytes:
                request.setHeader(name.encode(), value.encode())
            else:
                request.setHeader(name, value)
        return b"ok"

    async def both() -> None:
        results = []
        for taken in (True, False):
            server, transport = memory_server(
                *([Site(Leaf(render))] + ([] if taken else [Watcher()]))
            )
            async with server:
                results.append(comparable(await Client(transport).get("/")))
        assert results[0] == results[1]

    asyncio.run(both())


async def test_a_dispatcher_before_the_site_sees_its_requests_first() -> None:
    """A ``request`` handler at or above the site's priority that relays-http still
    offers heads beside (``Priority.DISPATCH``, as static files): the site takes none."""

    class Static(BaseComponent):
        channel = "web"

        @handler("request", priority=Priority.DISPATCH)
        def _static(self, event: Any, request: Request, response: Response) -> Any:
            if request.path.startswith("/static"):
                event.stop()
                return b"static"
            return None

    leaf = Leaf(lambda request: b"site")
    server, transport = memory_server(Site(leaf), Static())
    async with server:
        client = Client(transport)
        assert (await client.get("/static/a")).body == b"static"
        assert (await client.get("/other")).body == b"site"
    assert leaf.taken == [False]
