"""Two versions of relays side by side: the same benchmarks, the same run, the same machine.

A change that claims "no speed lost" is checked here: this script runs the benchmark scripts
of this tree once with the Python environment of a *base* checkout (an older commit, with its
own ``.venv``) and once with this tree's, alternating for several rounds so that a change in
the machine's load meets both alike, and prints every row of both with the change between
them. Both versions are measured by the same benchmark code (this tree's), so only the
relays code under it differs.

Make the base checkout once::

    git worktree add /tmp/relays-base <commit>
    (cd /tmp/relays-base && python3 dev.py test -q tests/kernel/test_events.py)  # its .venv

then, from this tree::

    .venv/bin/python benchmarks/versions.py --base-tree /tmp/relays-base

``--python X.Y`` runs both trees' ``.venv-X.Y`` instead (the base needs one: ``python3.12
-m venv .venv-3.12 && .venv-3.12/bin/pip install -e kernel`` there is enough for
``events`` and ``instructions``); ``--rows async,priority`` limits those two to some rows.

Benchmarks (``--benchmarks``, comma-separated): ``events`` (events/s of every row of
``events.py``, relays only, by CPU time: steadier than the wall clock on a shared
machine), ``instructions`` (its instructions per event under valgrind: the figure that
machine load cannot move), ``http_dispatch`` (instructions per request
of ``http_dispatch.py --instructions``: relays-http's server over the in-memory
transport, pipelined and with ``Connection: close``), ``echo`` (``echo.py``, relays
only) and ``http`` (``http.py``, relays and relays-uvloop, keep-alive and close; needs
wrk). A row is flagged
``WORSE`` when the head is more than ``--tolerance`` (3%) behind the base on that figure.
The script never fails on figures.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
HEAD_TREE = HERE.parent

#: A parsed figure: (row, metric) -> value.
Figures = dict[tuple[str, str], float]
#: Whether more of a metric is better (requests/s) or worse (instructions, CPU, latency).
HIGHER_IS_BETTER = {
    "ev/s": True,
    "instr/ev": False,
    "msg/s": True,
    "us CPU/msg": False,
    "MB/s": True,
    "req/s": True,
    "p99 ms": False,
    "us CPU/req": False,
    "instr/req": False,
}


def number(text: str) -> float:
    return float(text.replace(",", ""))


def parse_events(output: str, metric: str) -> Figures:
    """Rows of events.py: the row name, then relays' figure (events/s or instructions)."""
    figures: Figures = {}
    for line in output.splitlines():
        match = re.match(r"^(\s*\w+)\s+([\d,]+)\s", line)
        if match and not line.startswith("#") and match.group(1).strip() != "row":
            figures[(match.group(1).strip(), metric)] = number(match.group(2))
    return figures


def parse_echo(output: str) -> Figures:
    """The ``relays`` line of echo.py's table: messages/s, CPU per message, MB/s."""
    figures: Figures = {}
    for line in output.splitlines():
        match = re.match(r"^relays\s+([\d,]+)\s+([\d.]+)\s+\S+\s+\S+\s+([\d,.]+)", line)
        if match:
            figures[("echo", "msg/s")] = number(match.group(1))
            figures[("echo", "us CPU/msg")] = number(match.group(2))
            figures[("echo", "MB/s")] = number(match.group(3))
    return figures


def parse_http(output: str) -> Figures:
    """The relays lines of http.py's table: requests/s, p99 and CPU per request, per mode."""
    figures: Figures = {}
    pattern = r"^(relays(?:-uvloop)?)\s+(keep-alive|close)\s+(\d+)\s+([\d.]+)\s+\d+\s+([\d.]+)"
    for line in output.splitlines():
        match = re.match(pattern, line)
        if match:
            row = f"{match.group(1)} {match.group(2)}"
            figures[(row, "req/s")] = number(match.group(3))
            figures[(row, "p99 ms")] = number(match.group(4))
            figures[(row, "us CPU/req")] = number(match.group(5))
    return figures


def parse_http_dispatch(output: str) -> Figures:
    """Rows of ``http_dispatch.py --instructions``: instructions per request."""
    figures: Figures = {}
    for line in output.splitlines():
        match = re.match(r"^(\w[\w ]*?)\s+([\d,]+) instructions/request", line)
        if match:
            figures[(match.group(1), "instr/req")] = number(match.group(2))
    return figures


#: name -> (arguments of the benchmark script, parser of its output)
BENCHMARKS: dict[str, tuple[list[str], Callable[[str], Figures]]] = {
    "events": (
        ["events.py", "--relays-only", "--cpu", "--repeat", "3"],
        lambda o: parse_events(o, "ev/s"),
    ),
    "instructions": (
        ["events.py", "--relays-only", "--instructions"],
        lambda o: parse_events(o, "instr/ev"),
    ),
    "echo": (["echo.py", "--only", "relays", "--rounds", "1"], parse_echo),
    "http": (
        ["http.py", "--only", "relays,relays-uvloop", "--repeat", "1", "--seconds", "4"],
        parse_http,
    ),
    # (-P: benchmarks/http.py would shadow the standard http package.)
    "http_dispatch": (["-P", "http_dispatch.py", "--instructions"], parse_http_dispatch),
}


def run(python: Path, arguments: list[str]) -> str:
    flags = [argument for argument in arguments[:1] if argument == "-P"]
    script, *rest = arguments[len(flags) :]
    finished = subprocess.run(
        [str(python), *flags, str(HERE / script), *rest],
        capture_output=True,
        text=True,
        cwd=HEAD_TREE,
        # The blocked-loop watchdog off: its fixed wake-ups per second look like per-event
        # cost under valgrind's slowed clock (docs/explanation/design.rst), and a base
        # without it would then look faster than it is.
        env={**os.environ, "RELAYS_UVLOOP": "0", "RELAYS_BLOCKED_LOOP_MS": "0"},
        check=False,
    )
    if finished.returncode != 0:
        print(f"# {python} {' '.join(arguments)} failed:\n{finished.stderr[-1500:]}")
    return finished.stdout


def best(old: float | None, new: float, metric: str) -> float:
    if old is None:
        return new
    return max(old, new) if HIGHER_IS_BETTER[metric] else min(old, new)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base-tree", type=Path, required=True, help="checkout with a .venv")
    parser.add_argument("--benchmarks", default="instructions,events,echo,http")
    parser.add_argument("--rounds", type=int, default=2, help="alternating rounds; best counts")
    parser.add_argument("--tolerance", type=float, default=0.03, help="flag a loss above this")
    parser.add_argument(
        "--rows", help="events/instructions only: these rows of events.py (comma-separated)"
    )
    parser.add_argument(
        "--python",
        metavar="X.Y",
        help="run both trees on Python X.Y: their .venv-X.Y (python3 dev.py test --python "
        "X.Y makes it) instead of .venv",
    )
    args = parser.parse_args()
    environment = f".venv-{args.python}" if args.python else ".venv"
    pythons = {
        "base": args.base_tree.resolve() / environment / "bin" / "python",
        "head": HEAD_TREE / environment / "bin" / "python",
    }
    for side, python in pythons.items():
        if not python.exists():
            print(f"{side}: {python} does not exist (run python3 dev.py test there once)")
            return 2
    wanted = [name.strip() for name in args.benchmarks.split(",") if name.strip()]
    print(
        f"# base: {args.base_tree}; head: {HEAD_TREE}; {environment}; "
        f"best of {args.rounds} alternating rounds"
    )
    print(f"{'benchmark':<13} {'row':<22} {'metric':<11} {'base':>12} {'head':>12} {'change':>8}")
    for name in wanted:
        arguments, parse = BENCHMARKS[name]
        if args.rows and name in ("events", "instructions"):
            arguments = [*arguments, "--rows", args.rows]
        results: dict[str, Figures] = {"base": {}, "head": {}}
        for round_number in range(args.rounds):
            order = ["base", "head"] if round_number % 2 == 0 else ["head", "base"]
            for side in order:
                for key, value in parse(run(pythons[side], arguments)).items():
                    results[side][key] = best(results[side].get(key), value, key[1])
        for key in sorted(results["base"].keys() | results["head"].keys()):
            before, after = results["base"].get(key), results["head"].get(key)
            if before is None or after is None or before == 0:
                print(f"{name:<13} {key[0]:<22} {key[1]:<11} {before!s:>12} {after!s:>12}")
                continue
            gain = (after - before) / before
            better = gain if HIGHER_IS_BETTER[key[1]] else -gain
            flag = "  WORSE" if better < -args.tolerance else ""
            print(
                f"{name:<13} {key[0]:<22} {key[1]:<11} {before:>12,.1f} {after:>12,.1f} "
                f"{gain:>+7.1%}{flag}",
                flush=True,
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
