"""The resource tree on an in-memory server: traversal, methods, streaming, producers."""

from __future__ import annotations

import asyncio

import pytest

from relays_http.testing import Client, memory_server
from relays_resources import (
    NOT_DONE_YET,
    ClientDisconnected,
    NameVirtualHost,
    Redirect,
    Resource,
    ResourceRequest,
    Site,
)


class Hello(Resource):
    isLeaf = True

    def render_GET(self, request: ResourceRequest) -> bytes:
        return b"hello " + b"/".join(request.prepath) + b" | " + b"/".join(request.postpath)


class Form(Resource):
    def render_POST(self, request: ResourceRequest) -> bytes:
        return b"name=" + request.args[b"name"][0]


class Later(Resource):
    def __init__(self, gone: asyncio.Future[BaseException | None]) -> None:
        super().__init__()
        self.gone = gone

    def render_GET(self, request: ResourceRequest) -> object:
        request.write(b"first ")
        finished = request.notifyFinish()
        finished.add_done_callback(lambda f: self.gone.set_result(f.exception()))
        asyncio.get_running_loop().call_soon(self.second, request)
        return NOT_DONE_YET

    def second(self, request: ResourceRequest) -> None:
        request.write(b"second")
        request.finish()


def tree(gone: asyncio.Future[BaseException | None]) -> Resource:
    root = Resource()
    root.putChild(b"hello", Hello())
    root.putChild(b"form", Form())
    root.putChild(b"later", Later(gone))
    root.putChild(b"away", Redirect(b"/hello"))
    return root


async def test_traversal_methods_and_streaming() -> None:
    gone: asyncio.Future[BaseException | None] = asyncio.get_running_loop().create_future()
    server, transport = memory_server(Site(tree(gone)))
    async with server:
        client = Client(transport)
        answer = await client.get("/hello/a/b")
        assert answer.status == 200
        assert answer.body == b"hello hello | a/b"
        # Percent-encoded segments are decoded.
        answer = await client.get("/hello/a%20b/c%2Fd")
        assert answer.body == b"hello hello | a b/c/d"
        assert answer.headers["Content-Type"] == "text/html"
        answer = await client.get("/nothing")
        assert answer.status == 404
        assert b"No Such Resource" in answer.body
        answer = await client.request("GET", "/form")
        assert answer.status == 405
        assert answer.headers["Allow"] == "POST"
        answer = await client.post(
            "/form",
            b"name=fred",
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        assert answer.body == b"name=fred"
        answer = await client.get("/later")
        assert answer.body == b"first second"
        assert await gone is None
        answer = await client.get("/away")
        assert answer.status == 302
        assert answer.headers["Location"] == "/hello"
        answer = await client.request("HEAD", "/hello")
        assert answer.status == 200
        assert answer.body == b""


class Forever(Resource):
    """Writes one chunk and never finishes: only the client leaving ends it."""

    def __init__(self) -> None:
        super().__init__()
        self.started: asyncio.Future[asyncio.Future[None]] = (
            asyncio.get_running_loop().create_future()
        )

    def render_GET(self, request: ResourceRequest) -> object:
        request.write(b"tick")
        self.started.set_result(request.notifyFinish())
        return NOT_DONE_YET


async def test_notify_finish_fails_when_the_client_goes() -> None:
    root = Resource()
    forever = Forever()
    root.putChild(b"forever", forever)
    server, transport = memory_server(Site(root))
    async with server:
        client = Client(transport)
        client.send_request("GET", "/forever")
        finished = await forever.started
        await client.receive()
        client.close()
        with pytest.raises(ClientDisconnected):
            await finished


class Pulled:
    """A pull producer: one chunk per resumeProducing, three in all."""

    def __init__(self, request: ResourceRequest) -> None:
        self.request = request
        self.left = 3

    def resumeProducing(self) -> None:
        if self.left:
            self.left -= 1
            self.request.write(b"chunk%d;" % self.left)
        else:
            self.request.unregisterProducer()
            self.request.finish()

    def pauseProducing(self) -> None:
        raise AssertionError("a pull producer is never paused")

    def stopProducing(self) -> None:
        raise AssertionError("the client stayed")


class PullResource(Resource):
    def render_GET(self, request: ResourceRequest) -> object:
        request.registerProducer(Pulled(request), False)
        return NOT_DONE_YET


async def test_pull_producer_and_virtual_hosts() -> None:
    other = Resource()
    other.putChild(b"pull", PullResource())
    hosts = NameVirtualHost(default=Resource())
    hosts.addHost(b"example.org", other)
    server, transport = memory_server(Site(hosts))
    async with server:
        client = Client(transport)
        answer = await client.get("/pull", headers={"Host": "example.org:8080"})
        assert answer.body == b"chunk2;chunk1;chunk0;"
        answer = await client.get("/pull", headers={"Host": "elsewhere"})
        assert answer.status == 404


class Silent(Resource):
    """Returns NOT_DONE_YET and writes nothing: finishes at once, or never."""

    isLeaf = True

    def __init__(self) -> None:
        super().__init__()
        self.finished: asyncio.Future[asyncio.Future[None]] = (
            asyncio.get_running_loop().create_future()
        )

    def render_GET(self, request: ResourceRequest) -> object:
        if request.path == b"/empty":
            request.finish()
        else:
            self.finished.set_result(request.notifyFinish())
        return NOT_DONE_YET


async def test_a_response_with_nothing_written_is_empty_or_ends_when_the_client_goes() -> None:
    # The chunk queue is made by the first write: these two never make it.
    silent = Silent()
    server, transport = memory_server(Site(silent))
    async with server:
        answer = await Client(transport).get("/empty")
        assert (answer.status, answer.body) == (200, b"")
        client = Client(transport)
        client.send_request("GET", "/never")
        finished = await silent.finished
        client.close()
        with pytest.raises(ClientDisconnected):
            await finished


class Methods(Resource):
    """render_ methods for a usual method and for one outside the usual names."""

    isLeaf = True

    def render_PUT(self, request: ResourceRequest) -> bytes:
        return b"put"

    def render_PURGE(self, request: ResourceRequest) -> bytes:
        return b"purged"


async def test_render_finds_the_method_by_its_name_usual_or_not() -> None:
    # The usual methods' names come from a table, the others are built: both are found,
    # and a method with no renderer is a 405 (known) or a 501 (unknown), as before.
    server, transport = memory_server(Site(Methods()))
    async with server:
        client = Client(transport)
        assert (await client.request("PUT", "/")).body == b"put"
        assert (await client.request("PURGE", "/")).body == b"purged"
        answer = await client.request("POST", "/")
        assert answer.status == 405
        assert answer.headers["Allow"] == "PURGE, PUT"
        assert (await client.request("DELETE", "/")).status == 501
        assert (await client.request("LOCK", "/")).status == 501
