"""WSGIResource: a WSGI application as a leaf, on the tree's thread pool."""

from __future__ import annotations

import asyncio
import logging
import sys
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from relays_http import WSGIHeadError
from relays_http.testing import Client, memory_server
from relays_resources import DEFAULT_WSGI_THREADS, Resource, Site, WSGIResource

StartResponse = Callable[..., Any]


def hello(environ: dict[str, Any], start_response: StartResponse) -> list[bytes]:
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "99")])
    return [f"{environ['SCRIPT_NAME']} {environ['PATH_INFO']}".encode()]


def tree(application: Any, *, threads: int = DEFAULT_WSGI_THREADS) -> Resource:
    root = Resource()
    root.putChild(b"app", WSGIResource(application, threads=threads))
    return root


async def test_a_one_chunk_answer_goes_whole_on_the_trees_pool() -> None:
    threads: list[str] = []

    def application(environ: dict[str, Any], start_response: StartResponse) -> list[bytes]:
        threads.append(threading.current_thread().name)
        return hello(environ, start_response)

    server, transport = memory_server(Site(tree(application)))
    async with server:
        answer = await Client(transport).get("/app/a/b")
    assert answer.status == 200
    assert answer.body == b"/app /a/b"
    assert answer.headers["content-type"] == "text/plain"
    assert answer.headers["content-length"] == "9"  # the server's framing, not the app's
    assert threads[0].startswith("relays-handler")  # the kernel's pool, as thread=True


async def test_a_generator_streams_each_chunk_as_it_comes() -> None:
    go_on = threading.Event()
    closed = threading.Event()

    def application(environ: dict[str, Any], start_response: StartResponse) -> Iterator[bytes]:
        start_response("201 Made", [("X-Kind", "stream")])
        try:
            yield b"first;"
            go_on.wait(5)
            yield b""  # nothing to send: skipped
            yield b"second"
        finally:
            closed.set()

    server, transport = memory_server(Site(tree(application)))
    async with server:
        client = Client(transport)
        client.send_request("GET", "/app")
        # The first chunk arrives while the application still waits to go on.
        await client.connection.wait(lambda data: b"first;" in data)
        assert not go_on.is_set()
        go_on.set()
        answer = await client.response()
    assert (answer.status, answer.reason) == (201, "Made")
    assert answer.headers["x-kind"] == "stream"
    assert answer.body == b"first;second"
    assert closed.is_set()


async def test_paused_and_resumed_by_the_client_it_sends_every_chunk_in_order() -> None:
    def application(environ: dict[str, Any], start_response: StartResponse) -> Iterator[bytes]:
        start_response("200 OK", [])
        for number in range(200):
            yield b"%d," % number

    # high_water=1: every chunk pauses the thread until the stream has taken it.
    server, transport = memory_server(Site(tree(application), high_water=1, low_water=1))
    async with server:
        answer = await Client(transport).get("/app")
    assert answer.body == b"".join(b"%d," % number for number in range(200))


async def test_the_write_callable_and_a_head_replaced_with_exc_info() -> None:
    def application(environ: dict[str, Any], start_response: StartResponse) -> list[bytes]:
        write = start_response("200 OK", [("X-Old", "1")])
        if environ["PATH_INFO"] == "/write":
            write(b"written;")
            return [b"returned"]
        try:
            raise KeyError("late")
        except KeyError:
            start_response("503 Later", [("X-New", "1")], sys.exc_info())
        return [b"replaced"]

    server, transport = memory_server(Site(tree(application)))
    async with server:
        client = Client(transport)
        written = await client.get("/app/write")
        replaced = await client.get("/app/replace")
    assert written.body == b"written;returned"
    assert (replaced.status, replaced.body) == (503, b"replaced")
    assert "x-old" not in replaced.headers
    assert replaced.headers["x-new"] == "1"


async def test_broken_start_response_rules_are_500s(caplog: pytest.LogCaptureFixture) -> None:
    def application(environ: dict[str, Any], start_response: StartResponse) -> list[bytes]:
        path = environ["PATH_INFO"]
        if path == "/twice":
            start_response("200 OK", [])
            start_response("200 OK", [])
        elif path == "/status":
            start_response("OK", [])
        elif path == "/late":
            write = start_response("200 OK", [])
            write(b"sent")
            try:
                raise KeyError("late")
            except KeyError:
                start_response("500 Oops", [], sys.exc_info())  # re-raises: head is out
        return [b"never"]

    server, transport = memory_server(Site(tree(application)))
    with caplog.at_level(logging.ERROR):
        async with server:
            client = Client(transport)
            twice = await client.get("/app/twice")
            status = await client.get("/app/status")
            late_client = Client(transport)
            late_client.send_request("GET", "/app/late")
            rest = await late_client.wait_closed()
    assert (twice.status, twice.body) == (500, b"")
    assert status.status == 500
    assert b"sent" in rest
    assert not rest.endswith(b"0\r\n\r\n")
    messages = [record.getMessage() for record in caplog.records]
    assert any("rendering" in message for message in messages)
    failures = [record.exc_info[1] for record in caplog.records if record.exc_info]
    broken_rules = [str(error) for error in failures if isinstance(error, WSGIHeadError)]
    assert any("twice without exc_info" in message for message in broken_rules)
    assert any("three digits" in message for message in broken_rules)
    assert any(isinstance(error, KeyError) for error in failures)


async def test_an_application_that_raises_mid_stream_is_cut_short() -> None:
    def application(environ: dict[str, Any], start_response: StartResponse) -> Iterator[bytes]:
        start_response("200 OK", [])
        yield b"part;"
        raise RuntimeError("broken")

    server, transport = memory_server(Site(tree(application)))
    async with server:
        client = Client(transport)
        client.send_request("GET", "/app")
        rest = await client.wait_closed()
    assert b"part;" in rest
    assert not rest.endswith(b"0\r\n\r\n")


async def test_a_client_that_leaves_stops_the_application() -> None:
    closed = threading.Event()
    stopped: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    loop = asyncio.get_running_loop()

    def application(environ: dict[str, Any], start_response: StartResponse) -> Iterator[bytes]:
        start_response("200 OK", [])
        try:
            while True:
                yield b"more;"
        finally:
            closed.set()
            loop.call_soon_threadsafe(stopped.set_result, None)

    server, transport = memory_server(Site(tree(application)))
    async with server:
        client = Client(transport)
        client.send_request("GET", "/app")
        await client.connection.wait(lambda data: b"more;" in data)
        client.close()
        await asyncio.wait_for(stopped, 5)
    assert closed.is_set()


async def test_threads_bounds_the_calls_running_at_once() -> None:
    """With threads=1 a second request waits for the first call to end."""
    loop = asyncio.get_running_loop()
    order: list[str] = []
    first_inside: asyncio.Future[None] = loop.create_future()
    release_first = threading.Event()

    def application(environ: dict[str, Any], start_response: StartResponse) -> list[bytes]:
        name = environ["PATH_INFO"]
        order.append(f"{name} in")
        if name == "/first":
            loop.call_soon_threadsafe(first_inside.set_result, None)
            release_first.wait(5)
        order.append(f"{name} out")
        start_response("200 OK", [])
        return [name.encode()]

    second_rendered: asyncio.Future[None] = loop.create_future()

    class Watched(WSGIResource):
        def render(self, request: Any) -> Any:
            result = super().render(request)
            if request.path.endswith(b"/second"):
                second_rendered.set_result(None)
            return result

    root = Resource()
    root.putChild(b"app", Watched(application, threads=1))
    server, transport = memory_server(Site(root))
    async with server:
        first, second = Client(transport), Client(transport)
        first.send_request("GET", "/app/first")
        await first_inside
        second.send_request("GET", "/app/second")
        await second_rendered
        release_first.set()
        answers = [await first.response(), await second.response()]
    assert [answer.body for answer in answers] == [b"/first", b"/second"]
    assert order == ["/first in", "/first out", "/second in", "/second out"]


def test_threads_must_be_at_least_one() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        WSGIResource(hello, threads=0)
