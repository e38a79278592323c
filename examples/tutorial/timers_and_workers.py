"""Timers and workers: time in seconds, and blocking code off the event loop.

A :class:`~relays.Timer` fires an event after a number of seconds (with
``persist=True``, every that many seconds). A :class:`~relays.Worker` owns a thread
pool; ``await self.call(task(function, *args), worker)`` runs ``function(*args)`` on
one of its threads and gives back what it returned. Firing the task at the worker
component itself picks that worker, whatever its channel.

``wait_until_set`` below blocks its thread until the loop has ticked three times.
Run on the loop's own thread, it would block the loop, no tick could ever come, and
it would wait in vain for five seconds. Handed to the worker, it waits while the
loop goes on firing ticks.

When the answer is in, the handler calls ``self.stop()``; a real application would
keep running until Ctrl+C.
"""

import threading

from relays import BaseComponent, Component, Event, Timer, Worker, task


class Tick(Event):
    """The timer's beat."""


def wait_until_set(flag: threading.Event) -> str:
    """A blocking call, like many in libraries: it holds its thread until *flag* is set."""
    if flag.wait(timeout=5):
        return "the flag was set while I waited"
    return "nobody set the flag"


class App(Component):
    def __init__(self) -> None:
        super().__init__()
        self.ticks = 0
        self.three_ticks = threading.Event()
        self.timer = Timer(0.05, Tick(), persist=True).register(self)
        self.worker = Worker().register(self)

    def tick(self) -> None:
        self.ticks += 1
        print(f"tick {self.ticks}")
        if self.ticks == 3:
            self.timer.cancel()
            self.three_ticks.set()

    async def started(self, component: BaseComponent) -> None:
        print("Handing a blocking call to a worker thread...")
        answer = await self.call(task(wait_until_set, self.three_ticks), self.worker)
        print(f"The worker says: {answer}")
        self.stop()


if __name__ == "__main__":
    App().run()
