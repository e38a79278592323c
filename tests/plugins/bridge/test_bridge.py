"""The Bridge between two trees (two bridges, as two processes would have) on real
Redis and NATS servers: broadcast, work queues, requests and refusals."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from relays import Component, Event, handler
from relays_bridge import (
    Bridge,
    EventNotRegistered,
    EventNotSerialisable,
    RemoteError,
)
from relays_bridge._engine import EngineSettings, Outgoing, open_engine


class OrderPlaced(Event):
    """order_placed(order_id, items)"""


class PriceAsked(Event):
    """price_asked(item) -> the price"""


class Unknown(Event):
    """Never registered."""


EVENTS = [OrderPlaced, PriceAsked]


class Ledger:
    """What handlers saw, shared by several trees; a test waits for a count of it."""

    def __init__(self) -> None:
        self.entries: list[Any] = []
        self._changed = asyncio.Condition()

    def record(self, entry: Any) -> None:
        self.entries.append(entry)
        asyncio.get_running_loop().create_task(self._notify())

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    async def reach(self, count: int, timeout: float = 10) -> list[Any]:
        async def reached() -> None:
            async with self._changed:
                await self._changed.wait_for(lambda: len(self.entries) >= count)

        await asyncio.wait_for(reached(), timeout)
        return self.entries


class Shop(Component):
    """Records what it handles in its ledger; answers prices; fails on demand."""

    channel = "orders"

    def __init__(self, ledger: Ledger | None = None) -> None:
        super().__init__()
        self.ledger = ledger or Ledger()
        self.seen = self.ledger.entries

    def order_placed(self, order_id: int, items: list[str]) -> str:
        self.ledger.record((order_id, items))
        return f"order {order_id} taken"

    @handler("price_asked", channel="prices")
    def price(self, item: str) -> float:
        if item == "nothing":
            raise ValueError(f"no price for {item!r}")
        return {"tea": 2.5, "cake": 4.0}[item]


class Root(Component):
    channel = "app"


async def _joined(*bridges: Bridge) -> None:
    for bridge in bridges:
        await bridge.wait_connected(10)


def _bridge(broker: Any, namespace: str, **kwargs: Any) -> Bridge:
    kwargs.setdefault("events", EVENTS)
    return Bridge(broker.url, namespace=namespace, **kwargs)


async def test_a_broadcast_event_runs_in_both_processes(broker: Any, namespace: str) -> None:
    here, there = Shop(), Shop()
    bridge_here = _bridge(broker, namespace, channels=["orders"])
    bridge_there = _bridge(broker, namespace, channels=["orders"])
    async with Root() + here + bridge_here as app, Root() + there + bridge_there:
        await _joined(bridge_here, bridge_there)
        value = app.fire(OrderPlaced(7, ["tea"]), "orders")
        await there.ledger.reach(1)
        assert await value == "order 7 taken"
    assert here.seen == [(7, ["tea"])]
    assert there.seen == [(7, ["tea"])]


async def test_a_request_returns_the_remote_result_or_raises_its_error(
    broker: Any, namespace: str
) -> None:
    client = _bridge(broker, namespace, requests=["prices"])
    server = _bridge(broker, namespace, requests=["prices"])
    async with Root() + client as app, Root() + Shop() + server:
        await _joined(client, server)
        assert await app.call(PriceAsked("tea"), "prices", timeout=10) == 2.5
        with pytest.raises(RemoteError) as raised:
            await app.call(PriceAsked("nothing"), "prices", timeout=10)
    error = raised.value
    assert isinstance(error, ValueError)  # a builtin type is kept, as a report
    assert error.type_name == "ValueError"
    assert error.remote_message == "no price for 'nothing'"
    assert "in price" in error.remote_traceback  # the remote frames, as text


async def test_a_request_nobody_serves_times_out(broker: Any, namespace: str) -> None:
    from relays_bridge import BridgeTimeout

    client = _bridge(broker, namespace, requests=["prices"], reply_timeout=0.3)
    async with Root() + client as app:
        await _joined(client)
        with pytest.raises(BridgeTimeout, match=r"reply_timeout=0\.3"):
            await app.call(PriceAsked("tea"), "prices")


async def test_a_work_item_runs_in_one_process_of_the_group(broker: Any, namespace: str) -> None:
    ledger = Ledger()
    first, second = Shop(ledger), Shop(ledger)
    bridges = [_bridge(broker, namespace, work=["orders"]) for _ in range(3)]
    async with (
        Root() + bridges[0] as app,
        Root() + first + bridges[1],
        Root() + second + bridges[2],
    ):
        await _joined(*bridges)
        values = [app.fire(OrderPlaced(number, []), "orders") for number in range(20)]
        for value in values:
            assert await value is None  # queued: the work runs elsewhere
        await ledger.reach(20)
    numbers = sorted(entry[0] for entry in ledger.entries)
    assert numbers == list(range(20))  # each exactly once, somewhere


async def test_an_unregistered_event_is_refused_where_it_is_fired(
    broker: Any, namespace: str
) -> None:
    shop = Shop()
    bridge = _bridge(broker, namespace, channels=["orders"])
    async with Root() + shop + bridge as app:
        with pytest.raises(EventNotRegistered, match="Bridge\\(events="):
            await app.call(Unknown(), "orders")
        with pytest.raises(EventNotSerialisable) as raised:
            await app.call(OrderPlaced(1, ["tea", {"when": object()}]), "orders")
    assert raised.value.argument == "args[1][1]['when']"
    assert shop.seen == []  # refused: no local handler ran either


class Strict(Event):
    """An event whose arguments are checked on arrival."""

    def __init__(self, count: int, label: str = "") -> None:
        super().__init__(count, label=label)


async def test_a_message_from_the_network_is_checked_before_any_handler_runs(
    broker: Any, namespace: str
) -> None:
    from relays_bridge import Codec, EventMessage

    seen = Ledger()
    rejected: list[str] = []

    class Listener(Component):
        channel = "orders"

        def strict(self, count: int, label: str = "") -> None:
            seen.record(count)

        @handler("bridge_rejected", channel="bridge")
        def _rejected(self, channel: str, reason: str) -> None:
            rejected.append(reason)

    receiver = _bridge(broker, namespace, channels=["orders"], events=[Strict])
    codec = Codec("json")
    bad = [
        b"\xc1 not a message",
        codec.encode_event(EventMessage("1", "x", "strict", 1, "orders", ["three"], {})),
        codec.encode_event(EventMessage("2", "x", "strict", 9, "orders", [3], {})),
        codec.encode_event(EventMessage("3", "x", "other", 1, "orders", [3], {})),
    ]
    good = codec.encode_event(EventMessage("4", "x", "strict", 1, "orders", [3], {}))
    async with Root() + Listener() + receiver:
        await _joined(receiver)
        engine = open_engine(broker.url, EngineSettings(namespace, 30.0, 5, 16))
        await engine.connect("test")
        try:
            await engine.send([Outgoing("broadcast", "orders", frame) for frame in [*bad, good]])
        finally:
            await engine.close()
        assert await seen.reach(1) == [3]  # only the valid one, which came after the rest
    assert len(rejected) == 4
    assert "'count' of Strict is str, not int" in rejected[1]
    assert "version 9" in rejected[2]
