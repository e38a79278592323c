"""``run()`` freezes the heap once the tree has started (``gc.freeze()``), unless told not to.

Freezing is process-wide, so each case runs a small program in a child process and
reads what it saw from its output.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from typing import Any

PROGRAM = textwrap.dedent(
    """
    import gc, json, sys
    from relays import Component, Event

    BASELINE = gc.get_freeze_count()  # (not 0 on every Python: 3.12 starts with some)

    class Made:
        pass

    class App(Component):
        def started(self, component):
            self.at_start = Made()  # lives on: frozen with the rest of start-up
            self.fire(Event.create("check"))  # dispatched after ``started`` finished

        def check(self):
            later = Made()
            scanned = {id(o) for o in gc.get_objects()}  # frozen objects are not listed
            print(json.dumps({
                "freeze_count": gc.get_freeze_count() - BASELINE,
                "start_object_scanned": id(self.at_start) in scanned,
                "later_object_scanned": id(later) in scanned,
            }))
            self.stop()

    App().run(**json.loads(sys.argv[1]))
    """
)


def run_program(keywords: dict[str, Any], **environment: str) -> Any:
    env = {k: v for k, v in os.environ.items() if k != "RELAYS_GC_FREEZE"}
    finished = subprocess.run(
        [sys.executable, "-c", PROGRAM, json.dumps(keywords)],
        capture_output=True,
        text=True,
        env={**env, **environment},
        timeout=60,
        check=False,
    )
    assert finished.returncode == 0, finished.stderr
    return json.loads(finished.stdout.strip().splitlines()[-1])


def test_objects_made_at_start_up_are_frozen() -> None:
    seen = run_program({})
    assert seen["freeze_count"] > 0
    assert seen["start_object_scanned"] is False  # frozen: full collections skip it
    assert seen["later_object_scanned"] is True  # made afterwards: collected as usual


def test_freeze_gc_false_turns_it_off() -> None:
    seen = run_program({"freeze_gc": False})
    assert seen == {
        "freeze_count": 0,
        "start_object_scanned": True,
        "later_object_scanned": True,
    }


def test_the_environment_variable_turns_it_off() -> None:
    assert run_program({}, RELAYS_GC_FREEZE="0")["freeze_count"] == 0


def test_the_keyword_wins_over_the_environment() -> None:
    assert run_program({"freeze_gc": True}, RELAYS_GC_FREEZE="0")["freeze_count"] > 0


def test_start_in_a_thread_never_freezes() -> None:
    program = textwrap.dedent(
        """
        import gc
        from relays import Component
        baseline = gc.get_freeze_count()
        app = Component()
        app.start()
        app.stop()
        print(gc.get_freeze_count() - baseline)
        """
    )
    finished = subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, timeout=60, check=True
    )
    assert finished.stdout.strip() == "0"
