"""A process supervisor: run programs, label their output, restart those that fail.

Each program runs in a :class:`~relays_io.Process` on a channel named after it; a
:class:`~relays_io.Line` on its ``<name>.stdout`` channel cuts the output into lines,
which are printed with the program's name. A program that exits with an error is
started again after ``restart_delay`` seconds, at most ``max_restarts`` times; then
the supervisor gives up on it (a ``gave_up(name, code)`` event). Try::

    python examples/circuits/supervisor.py
"""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence

from relays import Component, Event, Timer, handler
from relays_io import Line, Process, Spawn


class GaveUp(Event):
    """``gave_up(name, code)``: *name* failed too often; it stays stopped."""


class Supervisor(Component):
    def __init__(
        self,
        programs: Mapping[str, Sequence[str]],
        *,
        restart_delay: float = 1.0,
        max_restarts: int = 3,
    ) -> None:
        super().__init__()
        self.restart_delay = restart_delay
        self.max_restarts = max_restarts
        self.restarts = dict.fromkeys(programs, 0)
        self.lines: list[str] = []
        for name, args in programs.items():
            process = Process(list(args), channel=name).register(self)
            Line(channel=process.stdout_channel, encoding="utf-8").register(self)

    @handler("line", channel="*")
    def show(self, event: Event, line: str) -> None:
        name = event.channels[0].removesuffix(".stdout")
        self.lines.append(f"{name}: {line}")
        print(self.lines[-1], flush=True)

    @handler("terminated", channel="*")
    def check(self, event: Event, code: int) -> None:
        name = event.channels[0]
        if code == 0:
            return
        if self.restarts[name] >= self.max_restarts:
            self.fire(GaveUp(name, code))
            return
        self.restarts[name] += 1
        Timer(self.restart_delay, Spawn(), name).register(self)

    def gave_up(self, name: str, code: int) -> None:
        print(f"supervisor: {name} failed {self.max_restarts + 1} times (exit {code})")


if __name__ == "__main__":
    python = sys.executable
    Supervisor(
        {
            "clock": [
                python,
                "-c",
                "import time; [print(i, flush=True) or time.sleep(1) for i in range(5)]",
            ],
            "flaky": [python, "-c", "print('starting'); raise SystemExit(1)"],
        }
    ).run()
