"""Waiting for an event that something else fires, in circuits' generator style.

``yield self.wait("name", channel)`` resumes once the next ``name`` event on that
channel has finished, with its result. Here a ``Baker`` puts each loaf in an ``Oven``,
which fires ``baked`` a little later from a :class:`~relays.Timer`; the baker waits for
it before the next loaf, while the loop goes on with other work. A bare ``yield`` gives
the loop a turn: the ``bake`` event fired just before is dispatched meanwhile. Try::

    python examples/circuits/wait.py
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

from relays import Component, Event, Timer, handler


class Bake(Event):
    """``bake(loaf)``: put *loaf* in the oven."""


class Baked(Event):
    """``baked(loaf)``: *loaf* is ready; its handler's result says so."""


class Oven(Component):
    channel = "oven"

    #: Seconds a loaf takes (short, it is an example).
    baking_time = 0.05

    def bake(self, loaf: str) -> None:
        Timer(self.baking_time, Baked(loaf), "oven").register(self)

    def baked(self, loaf: str) -> str:
        return f"{loaf} is baked"


class Baker(Component):
    def __init__(self) -> None:
        super().__init__()
        Oven().register(self)

    def started(self, component: Component) -> Generator[Any, Any, None]:
        for loaf in ("rye", "spelt"):
            self.fire(Bake(loaf), "oven")
            print(f"{loaf} is in the oven")
            yield  # give way: the bake event is dispatched meanwhile
            ready = yield self.wait("baked", "oven", timeout=5)
            print(ready)
        self.stop()

    @handler("bake", channel="oven", priority=-1)
    def meanwhile(self, loaf: str) -> None:
        print(f"(the baker tidies up while the {loaf} bakes)")


if __name__ == "__main__":
    Baker().run()
