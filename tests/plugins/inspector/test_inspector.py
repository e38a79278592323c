"""The Inspector's pages on a real server on loopback, through relays' HTTP client."""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest

from relays import Component, Event
from relays_http import Controller, Server
from relays_http.client import Response, Session
from relays_inspector import COOKIE_NAME, Inspector, StreamLimits

pytestmark = pytest.mark.integration


class Ping(Event):
    pass


class Root(Controller):
    def index(self) -> str:
        return "the app"


class Worker(Component):
    channel = "jobs"

    def ping(self, number: int) -> int:
        return number


@contextlib.asynccontextmanager
async def serving(**options: Any) -> AsyncIterator[tuple[Server, Inspector]]:
    inspector = Inspector(announce=False, graphviz=False, **options)
    server = Server("tcp://127.0.0.1:0") + Root() + Worker() + inspector
    async with server:
        await server.wait_ready()
        yield server, inspector


def page(inspector: Inspector, name: str = "") -> str:
    assert inspector.url is not None
    return inspector.url.split("?")[0] + name


async def test_the_link_is_set_once_the_server_listens() -> None:
    async with serving() as (server, inspector):
        assert inspector.url == f"{server.url}_relays/?token={inspector.token}"


@pytest.mark.parametrize("name", ["", "tree.svg", "handlers?component=c1", "events", "nope"])
async def test_no_token_or_a_wrong_one_gets_403(name: str) -> None:
    async with serving() as (_, inspector), Session() as session:
        missing = await session.get(page(inspector, name))
        assert missing.status == 403
        assert "link printed" in missing.text
        wrong = await session.get(page(inspector, name), params={"token": "x" * 32})
        assert wrong.status == 403
        cookie = {"Cookie": f"{COOKIE_NAME}={'y' * 32}"}
        assert (await session.get(page(inspector, name), headers=cookie)).status == 403


async def test_a_peer_outside_the_allowed_networks_gets_403() -> None:
    async with serving(allow=("10.0.0.0/8",)) as (_, inspector), Session() as session:
        assert inspector.url is not None
        refused = await session.get(inspector.url)
        assert refused.status == 403
        assert "local clients" in refused.text


async def test_the_link_sets_a_cookie_and_leaves_the_token_out_of_the_address() -> None:
    async with serving() as (server, inspector), Session() as session:
        assert inspector.url is not None
        first = await session.get(inspector.url, follow_redirects=False)
        assert first.status == 303
        assert first.headers["location"] == "/_relays/"
        cookie = first.headers["set-cookie"]
        assert cookie.startswith(f"{COOKIE_NAME}={inspector.token};")
        for attribute in ("HttpOnly", "SameSite=Strict", "Path=/_relays/"):
            assert attribute in cookie
        shown = await session.get(page(inspector))  # the cookie jar sends it
        assert shown.status == 200
        assert "relays inspector" in shown.text
        assert "script-src 'self'" in shown.headers["content-security-policy"]
        for asset in ("inspector.js", "inspector.css"):
            assert (await session.get(page(inspector, asset))).status == 200
        # the app itself is untouched, and the prefix without its slash is redirected
        assert (await session.get(server.url or "")).text == "the app"
        bare = await session.get(f"{server.url}_relays", follow_redirects=False)
        assert (bare.status, bare.headers["location"]) == (303, "/_relays/")
        assert (await session.get(f"{server.url}_relaysx")).status == 404


async def opened(session: Session, inspector: Inspector) -> None:
    assert inspector.url is not None
    assert (await session.get(inspector.url)).status == 200


async def test_the_tree_and_a_components_handlers() -> None:
    async with serving() as (_, inspector), Session() as session:
        await opened(session, inspector)
        tree = await session.get(page(inspector, "tree.svg"))
        assert tree.headers["content-type"].startswith("image/svg+xml")
        for name in ("Server", "Root", "Worker", "Inspector", "channel: jobs"):
            assert name in tree.text
        key = next(
            part.split('"')[1] for part in tree.text.split("<g id=")[1:] if "Worker" in part
        )
        table = (await session.get(page(inspector, "handlers"), params={"component": key})).json()
        assert table["component"] == "Worker"
        assert table["handlers"] == [
            {
                "event": "ping",
                "channel": "jobs",
                "priority": 0,
                "handler": "Worker.ping",
                "owner": "Worker",
            }
        ]
        gone = await session.get(page(inspector, "handlers"), params={"component": "c1"})
        assert gone.status == 404
        posted = await session.post(page(inspector, "tree.svg"))
        assert posted.status == 405


async def read_batches(response: Response) -> AsyncIterator[dict[str, Any]]:
    """The JSON messages of an event stream, as they come."""
    buffer = b""
    async for chunk in response.iter_bytes():
        buffer += chunk
        while b"\n\n" in buffer:
            block, buffer = buffer.split(b"\n\n", 1)
            data = [line[6:] for line in block.split(b"\n") if line.startswith(b"data: ")]
            if data:
                yield json.loads(b"\n".join(data))


async def test_an_event_fired_by_the_app_reaches_the_stream_and_the_listener_leaves() -> None:
    # a short keep-alive: the server learns that the page left when it next writes
    async with (
        serving(limits=StreamLimits(keep_alive=0.05)) as (server, inspector),
        Session() as session,
    ):
        await opened(session, inspector)
        handlers_before = len(server.handlers())
        async with session.stream(
            "GET", page(inspector, "events"), params={"name": "ping", "channel": "jobs"}
        ) as stream:
            assert stream.headers["content-type"].startswith("text/event-stream")
            batches = read_batches(stream)
            assert await anext(batches) == {"events": [], "dropped": 0, "sent": 0}
            assert len(server.handlers()) == handlers_before + 3  # the listener came
            server.fire(Ping(7), "other")  # filtered out: another channel
            server.fire(Ping(42), "jobs")
            batch = await anext(batches)
            while not batch["events"]:  # a message of figures alone, sampled meanwhile
                batch = await anext(batches)
            [record] = batch["events"]
            assert record["name"] == "ping"
            assert record["channels"] == ["jobs"]
            assert "42" in record["text"]
            await batches.aclose()
        while len(server.handlers()) != handlers_before:  # the server sees the close
            await server.wait("unregistered")
        assert inspector.tap.watching == 0


async def test_a_flood_is_sampled_with_the_dropped_count() -> None:
    limits = StreamLimits(buffer=5, interval=0)
    async with serving(limits=limits) as (server, inspector), Session() as session:
        await opened(session, inspector)
        async with session.stream(
            "GET", page(inspector, "events"), params={"name": "ping"}
        ) as stream:
            batches = read_batches(stream)
            await anext(batches)
            for number in range(50):
                server.fire(Ping(number), "jobs")
            seen = dropped = 0
            while seen + dropped < 50:
                batch = await anext(batches)
                seen += len(batch["events"])
                dropped = batch["dropped"]
            assert dropped > 0
            assert seen + dropped == 50
            await batches.aclose()


@pytest.mark.parametrize("path", ["/", "_relays", "/_relays/"])
def test_a_bad_path_is_refused(path: str) -> None:
    with pytest.raises(ValueError, match="prefix"):
        Inspector(path)


async def test_another_path_and_the_stop_with_a_page_open() -> None:
    async with serving(path="/ops/inspect") as (server, inspector), Session() as session:
        assert inspector.url is not None
        assert "/ops/inspect/?token=" in inspector.url
        await opened(session, inspector)
        assert (await session.get(f"{server.url}_relays/")).status == 404
        async with session.stream("GET", page(inspector, "events")) as stream:
            batches = read_batches(stream)
            await anext(batches)
            server.stop()  # the page's stream ends with the server: it does not hold it up
            async for _ in batches:
                pass
