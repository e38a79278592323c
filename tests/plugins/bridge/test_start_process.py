"""``component.start(process=True, link=parent)`` through relays-bridge: a real child.

The kernel's side (the proxy, ``stop()``, the errors without a plugin) is tested with a
fake plugin in tests/kernel/test_start_process.py; here the child process is real, and
so is the rule by which it rebuilds the component (see relays_bridge._rebuild).
"""

from __future__ import annotations

import asyncio
import datetime
import os
import sys
from pathlib import Path
from typing import Any

import pytest

from relays import Component
from relays_bridge import NotRebuildable, ProcessLink, RemoteError, rebuildable
from relays_bridge._rebuild import Recipe, recipe_of

HERE = Path(__file__).parent
# The child imports the component's module by name, on the parent's sys.path.
if str(HERE) not in sys.path:
    sys.path.append(str(HERE))

from linked_shop import EVENTS, Kitchen, OrderPlaced, Pantry, PriceAsked  # noqa: E402


class Root(Component):
    channel = "app"


class Front(Component):
    """The parent's side: records the orders placed here and those the child took."""

    channel = "orders"

    def __init__(self) -> None:
        super().__init__()
        self.placed: list[int] = []
        self.taken: asyncio.Queue[tuple[int, int]] = asyncio.Queue()

    def order_placed(self, order_id: int) -> None:
        self.placed.append(order_id)

    def order_taken(self, order_id: int, pid: int) -> None:
        self.taken.put_nowait((order_id, pid))


async def test_the_instance_is_the_childs_proxy_and_stop_ends_the_child(exit_of: Any) -> None:
    front = Front()
    app = Root() + front
    kitchen = Kitchen(greeting="hello")
    link = kitchen.start(
        process=True, link=app, channels=["orders"], requests=["prices"], events=EVENTS
    )
    assert isinstance(link, ProcessLink)
    assert link.parent is kitchen
    assert kitchen.parent is app
    async with app:
        await link.wait_connected(30)
        pid = link.pid
        assert pid is not None
        assert pid != os.getpid()
        # The child's Kitchen was made with this one's arguments.
        assert await kitchen.call(PriceAsked("greeting"), "prices", timeout=30) == "hello"
        assert await kitchen.call(PriceAsked("pid"), "prices", timeout=30) == pid
        assert await app.call(PriceAsked("tea"), "prices", timeout=30) == 2.5
        with pytest.raises(RemoteError) as raised:
            await kitchen.call(PriceAsked("bread"), "prices", timeout=30)
        assert isinstance(raised.value, KeyError)
        # A broadcast fired by the proxy runs in the parent's tree and in the child;
        # the proxy's own order_placed runs in the child only.
        kitchen.fire(OrderPlaced(7), "orders")
        assert await asyncio.wait_for(front.taken.get(), 30) == (7, pid)
        assert front.placed == [7]
        exited = await exit_of(pid)
        kitchen.stop()
        await asyncio.wait_for(exited, 30)
        # asyncio reaps the child a moment after the OS reports its exit (on 3.11 from
        # a watcher thread): wait until the link has seen it, or this test's loop may
        # close first and leave a "still running" subprocess for a later test's GC.
        for _ in range(3000):
            if link.exit_code is not None:
                break
            await asyncio.sleep(0.01)
        assert link.exit_code is not None
        assert kitchen.parent is None
        assert link.parent is None
        assert app.running  # the parent's tree goes on
    assert front.taken.empty()  # no order was taken in this process


async def test_by_default_the_components_channel_is_linked_for_requests() -> None:
    app = Root()
    pantry = Pantry()
    link = pantry.start(process=True, link=app, events=EVENTS)
    assert link.routes == {"pantry": "request"}
    async with app:
        await link.wait_connected(30)
        child = await pantry.call(PriceAsked("pid"), timeout=30)
        assert await pantry.call(PriceAsked("jam"), timeout=30) == 3.0
    assert child not in (None, os.getpid())
    assert link.exit_code == 0  # it exited when the parent's tree stopped


def test_the_rule_rebuilds_from_the_class_and_the_arguments_it_was_made_with() -> None:
    assert recipe_of(Kitchen("hi")) == Recipe("linked_shop:Kitchen", ["hi"], {})
    assert recipe_of(Kitchen(greeting="hi")) == Recipe(
        "linked_shop:Kitchen", [], {"greeting": "hi"}
    )
    assert recipe_of(Pantry()) == Recipe("linked_shop:Pantry", [], {})
    # channel= is read back from the instance, for an unmarked class too
    assert recipe_of(Pantry(channel="larder")) == Recipe(  # type: ignore[call-arg]
        "linked_shop:Pantry", [], {"channel": "larder"}
    )


@rebuildable
class Shelf(Component):
    def __init__(self, size: int) -> None:
        super().__init__()
        self.size = size


@rebuildable
class LabelledShelf(Shelf):
    def __init__(self, label: str, size: int = 3) -> None:
        super().__init__(size)


class PlainShelf(Shelf):
    """A subclass not marked itself: what its instances were made with is unknown."""


def test_a_marked_subclass_records_its_own_arguments() -> None:
    assert recipe_of(LabelledShelf("top")).args == ["top"]
    assert recipe_of(Shelf(2)).args == [2]
    with pytest.raises(NotRebuildable, match=r"PlainShelf .*takes size") as raised:
        recipe_of(PlainShelf(2))
    assert isinstance(raised.value, TypeError)  # a mistake of the caller's


def test_what_cannot_be_rebuilt_is_refused_naming_the_class_and_why() -> None:
    class Local(Component):
        pass

    with pytest.raises(NotRebuildable, match=r"Local cannot .*defined inside a function"):
        Local().start(process=True, link=Root())
    with pytest.raises(
        NotRebuildable, match=r"Kitchen cannot .*argument kwargs\['greeting'\] is a datetime"
    ):
        Kitchen(greeting=datetime.datetime.now()).start(process=True, link=Root())  # type: ignore[arg-type]
    with pytest.raises(NotRebuildable, match=r"PlainShelf cannot .*constructor takes size"):
        PlainShelf(1).start(process=True, link=Root())
    with pytest.raises(TypeError, match="takes no args=: the child rebuilds Kitchen"):
        Kitchen().start(process=True, link=Root(), args=[1])
    kitchen = Kitchen()
    with pytest.raises(TypeError, match="unexpected keyword argument 'chanels'"):
        kitchen.start(process=True, link=Root(), chanels=["orders"])
    assert kitchen.parent is None  # refused before anything changed
