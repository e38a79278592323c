"""Events per second of the relays kernel, next to circuits, measured in the same run.

Run from the repository root (circuits is only needed for the comparison)::

    .venv/bin/pip install -r benchmarks/requirements.txt
    .venv/bin/python benchmarks/events.py [--quick] [--relays-only] [--rows drain,call]

Each row does the same work on both sides, written the way each library is meant to be
used:

* ``drain``: fire N events at one handler, then wait until all are handled;
* ``chain``: a handler fires the next event until N events have run;
* ``fanout``: N events fired on two channels, three handlers (one on ``a``, two on ``b``);
* ``async``: N events whose handler suspends once (``async def`` + ``await
  asyncio.sleep(0)`` in relays, a generator handler that ``yield``\\ s once in circuits);
  beside it, its floors (bare asyncio tasks) and, as ``deliver``, the same handlers
  started by ``deliver_task`` with no event, as a transport's hot path can (not the row);
* ``call``: N round trips, each firing an event and getting its handler's result back
  (``await app.call(...)`` in relays, ``yield self.call(...)`` in a circuits handler);
* ``thread``: N events fired from another thread at a tree running in its own thread
  (``start()`` on both sides);
* ``priority``: N events, each with three handlers of different priorities.

relays runs its tree on an asyncio loop (``async with app:``). circuits runs the
synchronous rows with ``flush()``/``tick()`` in the calling thread, its cheapest way to
dispatch (no ``generate_events`` polling, no thread); only ``thread`` uses ``start()``.

Both sides handle the same N events per measurement (``--scale`` multiplies N). The figure
is the best of ``--repeat`` measurements, each on a fresh tree after a warm-up run, so
scheduler noise on a shared machine only ever makes a side look slower, never faster. The
ratio is relays events/s over circuits events/s in the same run.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import pathlib
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

try:
    import relays
except ImportError:  # not installed: use the source tree
    sys.path.insert(0, str(pathlib.Path(__file__).parents[1] / "kernel" / "src"))
    import relays

import _harness  # benchmarks/ is this script's folder, first on sys.path

from relays import Component, Event, handler

#: A measurement: (events handled, seconds taken).
Sample = tuple[int, float]

#: What a measurement is timed with; ``--cpu`` switches to the process's CPU time.
clock: Callable[[], float] = time.perf_counter

# -- relays -------------------------------------------------------------------------------


class Ping(Event):
    """``ping(i)``: the event every row fires."""


class Step(Event):
    """``step(i)``: one link of the chain; fires ``step(i - 1)`` until 0."""


class Work(Event):
    """``work(i)``: handled by an ``async def`` handler."""


class Ask(Event):
    """``ask(i)``: answered with ``i + 1``."""


class Counter(Component):
    """Counts ``ping`` events and calls ``finished`` after ``target`` of them."""

    def __init__(self, target: int, finished: Callable[[], Any], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.count = 0
        self.target = target
        self.finished = finished

    def ping(self, i: int) -> None:
        self.count += 1
        if self.count == self.target:
            self.finished()


class Chain(Component):
    def __init__(self, finished: Callable[[], Any]) -> None:
        super().__init__()
        self.finished = finished

    def step(self, i: int) -> None:
        if i:
            self.fire(Step(i - 1))
        else:
            self.finished()


class Hit(Component):
    """Counts ``ping`` events; three of them share the load in ``fanout``."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.count = 0

    def ping(self, i: int) -> None:
        self.count += 1


class Prioritised(Component):
    """Three ``ping`` handlers of different priorities on one component."""

    def __init__(self) -> None:
        super().__init__()
        self.count = 0

    @handler("ping", priority=1)
    def low(self, i: int) -> None:
        self.count += 1

    @handler("ping", priority=3)
    def high(self, i: int) -> None:
        self.count += 1

    @handler("ping", priority=2)
    def middle(self, i: int) -> None:
        self.count += 1


class Suspender(Component):
    def __init__(self, target: int, finished: Callable[[], Any]) -> None:
        super().__init__()
        self.count = 0
        self.target = target
        self.finished = finished

    async def work(self, i: int) -> None:
        await asyncio.sleep(0)
        self.count += 1
        if self.count == self.target:
            self.finished()


class Answer(Component):
    def ask(self, i: int) -> int:
        return i + 1


class RelaysRows:
    """One coroutine per row; each builds a fresh tree and times only the events."""

    @staticmethod
    async def drain(n: int) -> float:
        app = Component()
        app += Hit()
        async with app:
            start = clock()
            for i in range(n):
                last = app.fire(Ping(i))
            await last
            return clock() - start

    @staticmethod
    async def chain(n: int) -> float:
        done = asyncio.get_running_loop().create_future()
        app = Component()
        app += Chain(lambda: done.set_result(None))
        async with app:
            start = clock()
            app.fire(Step(n - 1))
            await done
            return clock() - start

    @staticmethod
    async def fanout(n: int) -> float:
        app = Component()
        app += Hit(channel="a")
        app += Hit(channel="b")
        app += Hit(channel="b")
        async with app:
            start = clock()
            for i in range(n):
                last = app.fire(Ping(i), "a", "b")
            await last
            return clock() - start

    @staticmethod
    async def async_(n: int) -> float:
        done = asyncio.get_running_loop().create_future()
        app = Component()
        app += Suspender(n, lambda: done.set_result(None))
        async with app:
            start = clock()
            for i in range(n):
                app.fire(Work(i))
            await done
            return clock() - start

    @staticmethod
    async def async_delivered(n: int) -> float:
        """The ``async`` row's work started with ``deliver_task`` instead of ``fire``:
        what a transport's hot path can do when nobody can see the event (shown beside
        the row, not the row: the row fires events, as applications do)."""
        done = asyncio.get_running_loop().create_future()
        app = Component()
        app += Suspender(n, lambda: done.set_result(None))
        channels = (app.channel,)
        async with app:
            start = clock()
            for i in range(n):
                app.deliver_task(Work, channels, i)
            await done
            return clock() - start

    @staticmethod
    async def call(n: int) -> float:
        app = Component()
        app += Answer()
        async with app:
            start = clock()
            for i in range(n):
                if await app.call(Ask(i)) != i + 1:
                    raise AssertionError("relays: call() returned a wrong result")
            return clock() - start

    @staticmethod
    async def priority(n: int) -> float:
        app = Component()
        app += Prioritised()
        async with app:
            start = clock()
            for i in range(n):
                last = app.fire(Ping(i))
            await last
            return clock() - start

    @staticmethod
    def thread(n: int) -> float:
        finished = threading.Event()
        app = Component()
        app += Counter(n, finished.set)
        app.start()
        try:
            start = clock()
            for i in range(n):
                app.fire(Ping(i))
            finished.wait(60)
            elapsed = clock() - start
        finally:
            app.stop()
        if not finished.is_set():
            raise AssertionError("relays: events fired from a thread were not all handled")
        return elapsed


#: Whether this Python has eager tasks (``Task(..., eager_start=True)``, 3.12+), which
#: relays' ``async def`` handlers start as.
EAGER_TASKS = sys.version_info >= (3, 12)


async def bare_asyncio_tasks(n: int, eager: bool = False) -> float:
    """The ``async`` row's floor: the same coroutine run as N asyncio tasks by hand, no
    framework at all. Every ``async def`` handler is a task (so it may use any asyncio
    library: timeouts, task groups, cancellation), so this is the least a framework
    that runs handlers as tasks can do.

    The floor the target is set against is what a bare asyncio program writes:
    ``loop.create_task`` N times, ordinary tasks, each run first on a later loop turn
    (one loop turn for its first step, one more after ``sleep(0)``). *eager* makes them
    eager tasks instead (``eager_start=True``, Python 3.12+), which is how relays starts
    its handlers there: the first step runs inside the call that makes the task, a loop
    turn saved per task, so it is a harder floor, shown beside the first.
    """
    loop = asyncio.get_running_loop()
    done = loop.create_future()
    count = 0

    async def work(i: int) -> None:
        nonlocal count
        await asyncio.sleep(0)
        count += 1
        if count == n:
            done.set_result(None)

    start = clock()
    if eager:
        # (mypy checks against 3.11, which has no ``eager_start``.)
        tasks = [
            asyncio.Task(work(i), loop=loop, eager_start=True)  # type: ignore[call-arg, unused-ignore]
            for i in range(n)
        ]
    else:
        tasks = [loop.create_task(work(i)) for i in range(n)]
    await done
    elapsed = clock() - start
    del tasks
    return elapsed


#: The ``async`` row's floors: (label, eager tasks?, what it is). The first is the one the
#: target is measured against; the second exists on 3.12+ only.
FLOORS = [
    ("floor", False, "bare asyncio: N create_task, ordinary tasks"),
    ("eager", True, "bare asyncio: N eager tasks, as relays' handlers"),
]


def floors() -> list[tuple[str, bool, str]]:
    """The floors this Python can measure."""
    return [floor for floor in FLOORS if EAGER_TASKS or not floor[1]]


def run_floor(loop: asyncio.AbstractEventLoop, eager: bool, n: int) -> float:
    """One measurement of a floor, on the loop relays runs on."""
    return loop.run_until_complete(bare_asyncio_tasks(n, eager))


def loop_name(loop: asyncio.AbstractEventLoop) -> str:
    """``uvloop`` or ``asyncio``: which loop a run used (both sides of a row use the same)."""
    return "uvloop" if type(loop).__module__.startswith("uvloop") else "asyncio"


# -- circuits -----------------------------------------------------------------------------


def circuits_rows() -> Any:
    """The circuits side, built on first use so that ``--relays-only`` never imports it."""
    import circuits
    from circuits import Event as CEvent
    from circuits import Manager
    from circuits import handler as chandler

    # circuits names an event after its class, so these are lower case.
    class ping(CEvent):
        pass

    class step(CEvent):
        pass

    class work(CEvent):
        pass

    class ask(CEvent):
        pass

    class go(CEvent):
        pass

    class CCounter(circuits.Component):
        def init(self, target: int, finished: Callable[[], Any], channel: str = "*") -> None:
            self.count = 0
            self.target = target
            self.finished = finished

        def ping(self, i: int) -> None:
            self.count += 1
            if self.count == self.target:
                self.finished()

    class CChain(circuits.Component):
        def init(self, finished: Callable[[], Any]) -> None:
            self.finished = finished

        def step(self, i: int) -> None:
            if i:
                self.fire(step(i - 1))
            else:
                self.finished()

    class CHit(circuits.Component):
        def init(self, channel: str = "*") -> None:
            self.count = 0

        def ping(self, i: int) -> None:
            self.count += 1

    class CPrioritised(circuits.Component):
        def init(self) -> None:
            self.count = 0

        @chandler("ping", priority=1)
        def low(self, i: int) -> None:
            self.count += 1

        @chandler("ping", priority=3)
        def high(self, i: int) -> None:
            self.count += 1

        @chandler("ping", priority=2)
        def middle(self, i: int) -> None:
            self.count += 1

    class CSuspender(circuits.Component):
        def init(self, target: int, finished: Callable[[], Any]) -> None:
            self.count = 0
            self.target = target
            self.finished = finished

        def work(self, i: int) -> Any:
            yield  # suspend until the next tick, like ``await asyncio.sleep(0)``
            self.count += 1
            if self.count == self.target:
                self.finished()

    class CAnswer(circuits.Component):
        def ask(self, i: int) -> int:
            return i + 1

    class CClient(circuits.Component):
        def init(self, finished: Callable[[], Any]) -> None:
            self.finished = finished

        def go(self, n: int) -> Any:
            for i in range(n):
                value = yield self.call(ask(i))
                if value.value != i + 1:
                    raise AssertionError("circuits: call() returned a wrong result")
            self.finished()

    def drain_all(manager: Any) -> None:
        # tick() runs suspended generator handlers, then flushes the queue.
        while len(manager) or manager._tasks:
            manager.tick()

    def fire_and_drain(manager: Any, n: int, *channels: str) -> float:
        drain_all(manager)  # the registered events
        start = clock()
        for i in range(n):
            manager.fire(ping(i), *channels)
        drain_all(manager)
        return clock() - start

    class Rows:
        @staticmethod
        def drain(n: int) -> float:
            return fire_and_drain(Manager() + CHit(), n)

        @staticmethod
        def chain(n: int) -> float:
            flag: list[bool] = []
            manager = Manager() + CChain(lambda: flag.append(True))
            drain_all(manager)
            start = clock()
            manager.fire(step(n - 1))
            drain_all(manager)
            elapsed = clock() - start
            if not flag:
                raise AssertionError("circuits: the chain did not finish")
            return elapsed

        @staticmethod
        def fanout(n: int) -> float:
            manager = Manager() + CHit(channel="a") + CHit(channel="b") + CHit(channel="b")
            return fire_and_drain(manager, n, "a", "b")

        @staticmethod
        def async_(n: int) -> float:
            flag: list[bool] = []
            manager = Manager() + CSuspender(n, lambda: flag.append(True))
            drain_all(manager)
            start = clock()
            for i in range(n):
                manager.fire(work(i))
            drain_all(manager)
            elapsed = clock() - start
            if not flag:
                raise AssertionError("circuits: the generator handlers did not finish")
            return elapsed

        @staticmethod
        def call(n: int) -> float:
            flag: list[bool] = []
            manager = Manager() + CAnswer() + CClient(lambda: flag.append(True))
            drain_all(manager)
            start = clock()
            manager.fire(go(n))
            drain_all(manager)
            elapsed = clock() - start
            if not flag:
                raise AssertionError("circuits: the call() loop did not finish")
            return elapsed

        @staticmethod
        def priority(n: int) -> float:
            return fire_and_drain(Manager() + CPrioritised(), n)

        @staticmethod
        def thread(n: int) -> float:
            finished = threading.Event()
            started = threading.Event()

            class Ready(circuits.Component):
                def started(self, component: Any) -> None:
                    started.set()

            manager = Manager() + Ready() + CCounter(n, finished.set)
            manager.start()
            try:
                if not started.wait(10):
                    raise AssertionError("circuits: start() did not start")
                start = clock()
                for i in range(n):
                    manager.fire(ping(i))
                finished.wait(60)
                elapsed = clock() - start
            finally:
                manager.stop()
                manager.join()
            if not finished.is_set():
                raise AssertionError("circuits: events fired from a thread were not all handled")
            return elapsed

    return Rows


# -- measuring ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Row:
    name: str
    attribute: str
    #: Events per measurement, the same on both sides (a queue of N events costs more per
    #: event than a short one, so each side must get the same N).
    n: int
    target: float
    what: str


ROWS = [
    Row("drain", "drain", 10_000, 2.5, "N events fired, then drained"),
    Row("chain", "chain", 10_000, 2.5, "each handler fires the next event"),
    Row("fanout", "fanout", 10_000, 2.5, "3 handlers on 2 channels"),
    Row("async", "async_", 5_000, 2.5, "handler suspends once"),
    Row("call", "call", 2_000, 10.0, "call() round trip"),
    Row("thread", "thread", 10_000, 2.5, "fire from another thread (extra)"),
    Row("priority", "priority", 10_000, 2.5, "3 handlers with priorities (extra)"),
]


def measure(run: Callable[[int], float], n: int, repeat: int) -> Sample:
    """The best of *repeat* runs of *n* events each, after a warm-up run."""
    return measure_side_by_side([run], n, repeat)[0]


def measure_side_by_side(runs: list[Callable[[int], float]], n: int, repeat: int) -> list[Sample]:
    """The best of *repeat* runs of each of *runs*, taken in turns (one of each, then
    again: :func:`_harness.rounds`), so that a change in the machine's load meets every
    side alike."""
    for run in runs:
        run(max(1, n // 10))  # warm-up: imports, handler caches, first-call costs

    def timed(_round: int, run: Callable[[int], float]) -> float:
        gc.collect()
        return run(n)

    outcomes = _harness.rounds(repeat, runs, timed)
    return [(n, min(outcomes[run])) for run in runs]


#: Whether this relays has ``deliver_task`` (an older one, measured by versions.py, may not).
CAN_DELIVER_TASKS = hasattr(Component, "deliver_task")

#: What the ``deliver`` line under the ``async`` row measures.
DELIVERED_WHAT = "relays, the same handlers started by deliver_task, no event (not the row)"


def delivered_runner(loop: asyncio.AbstractEventLoop) -> Callable[[int], float]:
    return lambda n: loop.run_until_complete(RelaysRows.async_delivered(n))


def relays_runner(loop: asyncio.AbstractEventLoop, row: Row) -> Callable[[int], float]:
    function = getattr(RelaysRows, row.attribute)
    if asyncio.iscoroutinefunction(function):
        return lambda n: loop.run_until_complete(function(n))
    return function  # type: ignore[no-any-return]


def rate(sample: Sample) -> float:
    n, seconds = sample
    return n / seconds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a fast smoke run (noisy figures)")
    parser.add_argument("--relays-only", action="store_true", help="do not run circuits")
    parser.add_argument("--rows", help="comma-separated row names (default: all)")
    parser.add_argument("--scale", type=float, help="multiply every row's N (default 1)")
    parser.add_argument("--repeat", type=int, help="measurements per figure (the best counts)")
    parser.add_argument(
        "--cpu",
        action="store_true",
        help="time with process CPU time: steadier on a busy machine, but time spent "
        "waiting (for the other thread, in 'thread') is not counted",
    )
    parser.add_argument(
        "--uvloop", action="store_true", help="run relays on uvloop (pip install uvloop)"
    )
    parser.add_argument(
        "--instructions",
        action="store_true",
        help="count machine instructions per event under valgrind instead of timing: "
        "the same figures on a busy machine as on an idle one (slower: a few minutes)",
    )
    # Internal: what --instructions runs under valgrind.
    parser.add_argument(
        "--run-once", nargs=3, metavar=("SIDE", "ROW", "N"), help=argparse.SUPPRESS
    )
    args = parser.parse_args(argv)
    if args.run_once:
        return run_once(*args.run_once)
    if args.uvloop:
        os.environ["RELAYS_UVLOOP"] = "1"  # read by new_event_loop, also in start()'s thread
    if args.cpu:
        global clock
        clock = time.process_time

    scale = args.scale if args.scale is not None else (0.02 if args.quick else 1.0)
    repeat = args.repeat if args.repeat is not None else (1 if args.quick else 5)
    rows = ROWS
    if args.rows:
        wanted = args.rows.split(",")
        unknown = set(wanted) - {row.name for row in ROWS}
        if unknown:
            parser.error(f"no row named {', '.join(sorted(unknown))}")
        rows = [row for row in ROWS if row.name in wanted]

    if args.instructions:
        return count_instructions(rows, scale, relays_only=args.relays_only)

    circuits = None
    if not args.relays_only:
        try:
            circuits = circuits_rows()
        except ImportError:
            parser.error(
                "circuits is not installed: pip install -r benchmarks/requirements.txt "
                "(or pass --relays-only)"
            )
        import circuits as circuits_module

        versions = f"relays {relays.__version__}, circuits {circuits_module.__version__}"
    else:
        versions = f"relays {relays.__version__}"
    loop = relays.new_event_loop()
    print(
        f"# {versions}, Python {sys.version.split()[0]}; "
        f"best of {repeat} runs of N events (x{scale:g}), "
        f"{'CPU' if args.cpu else 'wall-clock'} time, relays on {loop_name(loop)}",
        flush=True,
    )

    header = f"{'row':<9} {'relays ev/s':>12} {'circuits ev/s':>14} {'ratio':>7} {'target':>7}  "
    print(header + "result  what")
    missed = 0
    try:
        for row in rows:
            n = max(10, int(row.n * scale))
            runs = [relays_runner(loop, row)]
            if circuits is not None:
                runs.append(getattr(circuits, row.attribute))
            extra = floors() if row.name == "async" else []
            for _label, eager, _what in extra:
                # (Taken in turns with relays: the ratio to the floor is the target.)
                runs.append(partial(run_floor, loop, eager))
            with_delivered = bool(extra) and CAN_DELIVER_TASKS
            if with_delivered:
                runs.append(delivered_runner(loop))
            samples = [rate(sample) for sample in measure_side_by_side(runs, n, repeat)]
            delivered = samples.pop() if with_delivered else None
            ours = samples[0]
            if circuits is None:
                theirs = None
                print(
                    f"{row.name:<9} {ours:>12,.0f} {'-':>14} {'-':>7} {row.target:>6g}x  "
                    f"{'-':<6}  {row.what}",
                    flush=True,
                )
            else:
                theirs = samples[1]
                ratio = ours / theirs
                verdict = "PASS" if ratio >= row.target else "MISS"
                missed += verdict == "MISS"
                print(
                    f"{row.name:<9} {ours:>12,.0f} {theirs:>14,.0f} {ratio:>6.1f}x "
                    f"{row.target:>6g}x  {verdict:<6}  {row.what}",
                    flush=True,
                )
            for (label, _eager, what), floor in zip(
                extra, samples[len(samples) - len(extra) :], strict=True
            ):
                # The target is 1.0x the first floor; the eager one is shown beside it.
                versus = f"{floor / theirs:>6.1f}x" if theirs is not None else f"{'-':>7}"
                target = f"{1:>6g}x" if label == "floor" else f"{'':>7}"
                verdict = "PASS" if ours >= floor else "MISS"
                print(
                    f"{'  ' + label:<9} {floor:>12,.0f} {'':>14} {versus} {target}  "
                    f"{verdict if label == 'floor' else '':<6}  {what} (relays: "
                    f"{ours / floor:.2f}x of it)",
                    flush=True,
                )
            if delivered is not None:
                floor = samples[len(samples) - len(extra)]
                versus = f"{delivered / theirs:>6.1f}x" if theirs is not None else f"{'-':>7}"
                print(
                    f"{'  deliver':<9} {delivered:>12,.0f} {'':>14} {versus} {'':>7}  "
                    f"{'':<6}  {DELIVERED_WHAT} ({delivered / floor:.2f}x the floor)",
                    flush=True,
                )
    finally:
        loop.close()
    if circuits is not None:
        print(f"# {len(rows) - missed} of {len(rows)} rows meet their target")
    # A benchmark reports; it does not fail on figures (the machine may be busy).
    return 0


def run_once(side: str, row_name: str, n: str) -> int:
    """Run one row once, for one side; what ``--instructions`` counts."""
    row = next(row for row in ROWS if row.name == row_name)
    if side in ("asyncio", "asyncio-eager"):  # the async row's floors, on relays' loop
        loop = relays.new_event_loop()
        try:
            run_floor(loop, side == "asyncio-eager", int(n))
        finally:
            loop.close()
    elif side == "relays-deliver":  # the ``deliver`` line under the async row
        loop = relays.new_event_loop()
        try:
            delivered_runner(loop)(int(n))
        finally:
            loop.close()
    elif side == "relays":
        loop = relays.new_event_loop()
        try:
            relays_runner(loop, row)(int(n))
        finally:
            loop.close()
    else:
        getattr(circuits_rows(), row.attribute)(int(n))
    return 0


def count_instructions(rows: list[Row], scale: float, relays_only: bool) -> int:
    """Print instructions per event for each row and side, and their ratio."""
    import instructions

    if not instructions.available():
        print("valgrind is not installed: apt-get install valgrind", file=sys.stderr)
        return 2
    # Under valgrind the clock runs as ever while the process runs ~50x slower, so the
    # blocked-loop watchdog's fixed wake-ups per second would count as per-event work.
    os.environ.setdefault("RELAYS_BLOCKED_LOOP_MS", "0")
    probe = relays.new_event_loop()  # (what --run-once will get: the same environment)
    loop = loop_name(probe)
    probe.close()
    print(
        f"# relays {relays.__version__}, Python {sys.version.split()[0]}, relays on {loop}; "
        "machine instructions per event under valgrind (lower is better; the ratio is "
        "circuits' count over relays': how many times less work relays does)",
        flush=True,
    )
    print(f"{'row':<9} {'relays':>9} {'circuits':>9} {'ratio':>7} {'target':>7}  result  what")
    script = [sys.executable, str(pathlib.Path(__file__).resolve()), "--run-once"]
    sides = ["relays"] if relays_only else ["relays", "circuits"]
    missed = 0
    for row in rows:
        large = max(20, int(row.n * scale) // 2)
        small = large // 5
        counts = [instructions.per_item([*script, side, row.name], small, large) for side in sides]
        if relays_only:
            print(
                f"{row.name:<9} {counts[0]:>9,.0f} {'-':>9} {'-':>7} "
                f"{row.target:>6g}x  {'-':<6}  {row.what}",
                flush=True,
            )
        else:
            ratio = counts[1] / counts[0]
            verdict = "PASS" if ratio >= row.target else "MISS"
            missed += verdict == "MISS"
            print(
                f"{row.name:<9} {counts[0]:>9,.0f} {counts[1]:>9,.0f} {ratio:>6.2f}x "
                f"{row.target:>6g}x  {verdict:<6}  {row.what}",
                flush=True,
            )
        if row.name != "async":
            continue
        floors_counted = []
        for label, eager, what in floors():
            side = "asyncio-eager" if eager else "asyncio"
            floor = instructions.per_item([*script, side, row.name], small, large)
            versus = f"{counts[1] / floor:>6.2f}x" if not relays_only else f"{'-':>7}"
            target = f"{1:>6g}x" if label == "floor" else f"{'':>7}"
            verdict = "PASS" if counts[0] <= floor else "MISS"
            print(
                f"{'  ' + label:<9} {floor:>9,.0f} {'':>9} {versus} {target}  "
                f"{verdict if label == 'floor' else '':<6}  {what} (relays: "
                f"{floor / counts[0]:.2f}x of it)",
                flush=True,
            )
            floors_counted.append(floor)
        if not CAN_DELIVER_TASKS:
            continue
        delivered = instructions.per_item([*script, "relays-deliver", row.name], small, large)
        versus = f"{counts[1] / delivered:>6.2f}x" if not relays_only else f"{'-':>7}"
        print(
            f"{'  deliver':<9} {delivered:>9,.0f} {'':>9} {versus} {'':>7}  {'':<6}  "
            f"{DELIVERED_WHAT} ({floors_counted[0] / delivered:.2f}x the floor)",
            flush=True,
        )
    if not relays_only:
        print(f"# {len(rows) - missed} of {len(rows)} rows meet their target")
    return 0


if __name__ == "__main__":
    sys.exit(main())
