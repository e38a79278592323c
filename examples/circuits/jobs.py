"""A batch runner: jobs run in a worker pool, each outcome is reported as it comes, and
the exit status says whether any job failed.

The :class:`~relays.Worker` is given as a class attribute, so each runner gets it
registered under itself, as in circuits. Every ``task`` is followed by
``task_success(event, result)`` or ``task_failure(event, error)`` on the worker's
channel; when the last one is in, ``stop(code)`` ends the program with status 1 if a
job failed and 0 otherwise. Try::

    python examples/circuits/jobs.py 4 0 8; echo "exit status $?"

(``0`` fails: there is no inverse of zero.)
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any

from relays import Component, Event, Worker, handler, task


def invert(number: float) -> float:
    """The job: runs in a worker thread (a real program would do blocking work here)."""
    return 1 / number


class Batch(Component):
    worker = Worker(workers=1)

    def __init__(self, numbers: Sequence[float]) -> None:
        super().__init__()
        self.numbers = list(numbers)
        self.waiting = len(self.numbers)
        self.failures = 0

    def started(self, component: Component) -> None:
        for number in self.numbers:
            self.fire(task(invert, number), "worker")
        if not self.numbers:
            self.stop(0)

    @handler("task_success", channel="worker")
    def succeeded(self, event: Event, result: float) -> None:
        print(f"1/{event.args[1]} = {result}")
        self._one_more_done()

    @handler("task_failure", channel="worker")
    def failed(self, event: Event, error: BaseException) -> None:
        print(f"1/{event.args[1]} failed: {error}")
        self.failures += 1
        self._one_more_done()

    def exception(self, *args: Any, **kwargs: Any) -> None:
        """A failed job is reported by ``task_failure`` above; nothing more to say."""

    def _one_more_done(self) -> None:
        self.waiting -= 1
        if self.waiting == 0:
            self.stop(1 if self.failures else 0)


if __name__ == "__main__":
    Batch([float(argument) for argument in sys.argv[1:]]).run()
