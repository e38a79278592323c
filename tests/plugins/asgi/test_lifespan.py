"""The lifespan protocol: startup before requests, shutdown at stop, failures, state."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest

from relays import BaseComponent, Component, handler
from relays_asgi import Asgi, AsgiLimits
from relays_http.testing import Client, memory_server

Scope = dict[str, Any]


class LifespanApp:
    """Records its lifespan and answers requests with what its startup put in ``state``."""

    def __init__(self, *, fail_startup: str | None = None, fail_shutdown: str | None = None):
        self.events: list[str] = []
        self.fail_startup = fail_startup
        self.fail_shutdown = fail_shutdown
        self.startup_may_finish = asyncio.Event()
        self.startup_may_finish.set()

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            message = await receive()
            assert message["type"] == "lifespan.startup"
            await self.startup_may_finish.wait()
            if self.fail_startup is not None:
                await send({"type": "lifespan.startup.failed", "message": self.fail_startup})
                return
            scope["state"]["greeting"] = "hello from startup"
            self.events.append("startup")
            await send({"type": "lifespan.startup.complete"})
            message = await receive()
            assert message["type"] == "lifespan.shutdown"
            self.events.append("shutdown")
            if self.fail_shutdown is not None:
                await send({"type": "lifespan.shutdown.failed", "message": self.fail_shutdown})
                return
            await send({"type": "lifespan.shutdown.complete"})
            return
        state = scope["state"]
        self.events.append("request")
        answer = state["greeting"].encode()
        state["mine"] = "this request's"
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": answer})


async def test_startup_runs_before_requests_and_shutdown_when_the_tree_stops() -> None:
    app = LifespanApp()
    app.startup_may_finish.clear()
    server, transport = memory_server(Asgi(app))
    async with server:
        client = Client(transport)
        client.send_request("GET", "/")
        app.startup_may_finish.set()  # the request waited for the startup
        assert (await client.response()).body == b"hello from startup"
        assert (await client.get("/")).body == b"hello from startup"
    assert app.events == ["startup", "request", "request", "shutdown"]


class StopWatch(Component):
    """Sets :attr:`stopped` when the tree stops by itself."""

    def __init__(self) -> None:
        super().__init__()
        self.stopped = asyncio.Event()

    @handler("stopped", channel="*")
    def _on_stopped(self, component: BaseComponent) -> None:
        self.stopped.set()


async def test_a_failed_startup_stops_the_server_with_the_apps_message(
    caplog: pytest.LogCaptureFixture,
) -> None:
    app = LifespanApp(fail_startup="the database is not there")
    watch = StopWatch()
    server, _ = memory_server(Asgi(app), watch)
    with caplog.at_level(logging.ERROR):
        async with server:
            await watch.stopped.wait()
    assert "the database is not there" in caplog.text
    assert "request" not in app.events


async def test_a_failed_shutdown_is_logged(caplog: pytest.LogCaptureFixture) -> None:
    app = LifespanApp(fail_shutdown="could not flush")
    server, transport = memory_server(Asgi(app))
    with caplog.at_level(logging.ERROR):
        async with server:
            assert (await Client(transport).get("/")).status == 200
    assert "could not flush" in caplog.text


async def test_an_app_without_lifespan_is_served_in_auto_mode(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def http_only(scope: Scope, receive: Any, send: Any) -> None:
        assert scope["type"] == "http"
        assert "state" not in scope
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"plain"})

    server, transport = memory_server(Asgi(http_only))
    with caplog.at_level(logging.INFO, logger="relays.asgi"):
        async with server:
            assert (await Client(transport).get("/")).body == b"plain"
    assert "does not use the lifespan protocol" in caplog.text
    assert not [record for record in caplog.records if record.levelno >= logging.ERROR]


async def test_lifespan_on_makes_an_app_that_does_not_speak_it_fail_to_start() -> None:
    async def http_only(scope: Scope, receive: Any, send: Any) -> None:
        raise RuntimeError("only http here")

    watch = StopWatch()
    server, _ = memory_server(Asgi(http_only, lifespan="on"), watch)
    async with server:
        await watch.stopped.wait()


async def test_lifespan_off_never_calls_the_app_with_lifespan() -> None:
    scopes: list[str] = []

    async def app(scope: Scope, receive: Any, send: Any) -> None:
        scopes.append(scope["type"])
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body"})

    server, transport = memory_server(Asgi(app, lifespan="off"))
    async with server:
        assert (await Client(transport).get("/")).status == 204
    assert scopes == ["http"]


async def test_a_startup_that_takes_too_long_stops_the_server(
    caplog: pytest.LogCaptureFixture,
) -> None:
    app = LifespanApp()
    app.startup_may_finish.clear()
    watch = StopWatch()
    server, _ = memory_server(Asgi(app, limits=AsgiLimits(startup_timeout=0.05)), watch)
    with caplog.at_level(logging.ERROR):
        async with server:
            await watch.stopped.wait()
    assert "startup_timeout" in caplog.text


def test_limits_are_checked() -> None:
    with pytest.raises(ValueError, match="buffered_chunks"):
        AsgiLimits(buffered_chunks=0)
    with pytest.raises(ValueError, match="startup_timeout"):
        AsgiLimits(startup_timeout=-1)
    with pytest.raises(ValueError, match="lifespan is"):
        Asgi(LifespanApp(), lifespan="maybe")  # type: ignore[arg-type]
