"""Blocking pages in threads: ``Controller.thread``, ``@expose(thread=...)`` and
``relays serve --threads N``."""

from __future__ import annotations

import argparse
import asyncio
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from relays import Component
from relays.testing import MemoryTransport
from relays_http import BaseServer
from relays_http._cli import _use_threads, build_server
from relays_http._controllers import BaseController, Controller, expose
from relays_http._dispatcher import Dispatcher
from relays_http.testing import Client, memory_server

#: Generous: these waits end when the other side acts, long before this.
PATIENCE = 30


class Pages(Controller):
    thread = True

    def __init__(self) -> None:
        super().__init__()
        self.release = threading.Event()

    def where(self) -> str:
        return f"{threading.current_thread().name} {self.request.path}"

    def gate(self) -> str:
        assert self.release.wait(PATIENCE)  # blocks its thread, not the loop
        return "through"

    def rows(self) -> Iterator[bytes]:
        for i in range(3):
            yield f"{i}:{threading.current_thread().name.split('_')[0]}\n".encode()

    def broken(self) -> str:
        raise LookupError("in the thread")

    @expose(thread=False)
    def on_loop(self) -> str:
        return threading.current_thread().name

    async def awaiting(self) -> str:
        return threading.current_thread().name


class Mixed(Controller):
    channel = "/mixed"

    @expose(thread=True)
    def threaded(self) -> str:
        return threading.current_thread().name

    def plain(self) -> str:
        return threading.current_thread().name


def serve(*apps: Any) -> tuple[BaseServer, MemoryTransport]:
    return memory_server(Dispatcher(), *apps)


async def test_a_thread_class_runs_its_pages_in_the_pool() -> None:
    pages = Pages()
    server, transport = serve(pages, Mixed())
    loop_thread = threading.current_thread().name
    async with server:
        client = Client(transport)
        where = (await client.get("/where")).body.decode()
        assert where.startswith("relays-handler")
        assert where.endswith(" /where")  # the request is the page's, in the thread
        assert (await client.get("/on_loop")).body.decode() == loop_thread
        assert (await client.get("/awaiting")).body.decode() == loop_thread
        assert (await client.get("/mixed/threaded")).body.decode().startswith("relays-handler")
        assert (await client.get("/mixed/plain")).body.decode() == loop_thread


async def test_a_blocked_page_does_not_hold_other_requests() -> None:
    pages = Pages()
    server, transport = serve(pages)
    async with server:
        client = Client(transport)
        gated = asyncio.ensure_future(client.get("/gate"))
        assert (await client.get("/where")).status == 200  # answered meanwhile
        assert not gated.done()
        pages.release.set()
        assert (await gated).body == b"through"


async def test_a_generator_page_streams_from_the_thread() -> None:
    server, transport = serve(Pages())
    async with server:
        body = (await Client(transport).get("/rows")).body
    assert body == b"0:relays-handler\n1:relays-handler\n2:relays-handler\n"


async def test_an_error_in_the_thread_is_a_500(caplog: pytest.LogCaptureFixture) -> None:
    server, transport = serve(Pages())
    async with server:
        assert (await Client(transport).get("/broken")).status == 500
    assert any("in the thread" in record.getMessage() for record in caplog.records)


def test_serve_threads_makes_threads_the_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(BaseController, "thread", False)
    _use_threads(argparse.Namespace(threads=4))
    assert BaseController.thread is True

    class Later(Controller):
        def page(self) -> str:
            return "x"

    assert Later._pages["page"].thread
    options = argparse.Namespace(
        bind="tcp://127.0.0.1:0",
        certfile=None,
        keyfile=None,
        workers=1,
        debug=False,
        threads=4,
    )
    server = build_server(Component(), options, quiet=True)
    assert server.handler_threads == 4


def test_serve_threads_refuses_a_negative_count() -> None:
    with pytest.raises(ValueError, match="--threads"):
        _use_threads(argparse.Namespace(threads=-1))
