"""Credentials in the URL reach the broker, and never a log or an event."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from relays import Component, Event
from relays_bridge import Bridge

from .conftest import Broker  # type: ignore[import-not-found]


class Ping(Event):
    """ping(number) -> number"""


class Pong(Component):
    channel = "ping"

    def ping(self, number: int) -> int:
        return number


class Root(Component):
    channel = "app"


class Guarded(Broker):  # type: ignore[misc]
    """A broker that wants a password (Redis) or a token (NATS)."""

    SECRET = "s3cret-for-tests"

    def command(self) -> list[str]:
        if self.kind == "redis":
            return [*super().command(), "--requirepass", self.SECRET]
        return [*super().command(), "--auth", self.SECRET]

    def url_with(self, secret: str) -> str:
        if self.kind == "redis":
            return f"redis://:{secret}@127.0.0.1:{self.port}/0"
        return f"nats://{secret}@127.0.0.1:{self.port}"


@pytest.fixture(params=["redis", "nats"])
def guarded(request: pytest.FixtureRequest, tmp_path: Path) -> Any:
    broker = Guarded(request.param, tmp_path)
    broker.start()
    yield broker
    broker.stop()


async def test_the_url_carries_credentials_that_stay_out_of_events(
    guarded: Any, caplog: pytest.LogCaptureFixture
) -> None:
    urls: list[str] = []

    class Watch(Component):
        channel = "bridge"

        def bridge_connected(self, url: str) -> None:
            urls.append(url)

        def bridge_disconnected(self, url: str, reason: str) -> None:
            urls.append(url)

    wrong = Bridge(guarded.url_with("wrong"), requests=["ping"], events=[Ping])
    client = Bridge(guarded.url_with(guarded.SECRET), requests=["ping"], events=[Ping])
    server = Bridge(guarded.url_with(guarded.SECRET), requests=["ping"], events=[Ping])
    async with Root() + Watch() + wrong, Root() + client as app, Root() + Pong() + server:
        await client.wait_connected(10)
        await server.wait_connected(10)
        assert await app.call(Ping(3), "ping", timeout=10) == 3
        with pytest.raises(TimeoutError):
            await wrong.wait_connected(0.5)  # refused by the broker: it keeps trying
    assert urls  # at least one bridge_disconnected from the wrong secret
    assert all("wrong" not in url and guarded.SECRET not in url for url in urls)
    assert "wrong" not in caplog.text
    assert guarded.SECRET not in repr(client)
