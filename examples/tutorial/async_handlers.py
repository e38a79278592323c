"""Async handlers: wait for time and for other events without blocking anyone.

circuits could not do this. In relays a handler may be ``async def``: it can
``await`` anything asyncio offers, and ``await self.call(event)`` fires an event and
gives back its result (or raises the error of the handler that failed). While one
handler waits, the loop goes on dispatching other events.

``fire`` returns a :class:`~relays.Value` at once, and a value can be awaited, so
``asyncio.gather`` waits for several events at the same time: the four squares
below are worked out concurrently, in about the time of the slowest one, and come
back in the order they were fired.

The handler calls ``self.stop()`` when it is done; a real application would keep
running until Ctrl+C.
"""

import asyncio

from relays import BaseComponent, Component, Event


class Square(Event):
    """``square(n)``: asks for ``n * n``."""


class Calculator(Component):
    async def square(self, n: int) -> int:
        # Pretend the answer takes a while, longer for small numbers, so they finish
        # in the opposite order to the one they were asked in.
        await asyncio.sleep(0.05 / n)
        return n * n


class App(Component):
    def __init__(self) -> None:
        super().__init__()
        Calculator().register(self)

    async def started(self, component: BaseComponent) -> None:
        print("Waiting a moment...")
        await asyncio.sleep(0.1)

        nine = await self.call(Square(3))
        print(f"3 squared is {nine}")

        values = [self.fire(Square(n)) for n in (1, 2, 3, 4)]
        squares = await asyncio.gather(*values)
        print(f"Squares of 1 to 4: {squares}")

        self.stop()


if __name__ == "__main__":
    App().run()
