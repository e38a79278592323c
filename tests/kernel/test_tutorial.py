"""The tutorial programs in examples/tutorial/ run, end by themselves, and print what the
tutorial pages say they print."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "tutorial"

#: Seconds an example may take; each one ends by itself in well under one.
TIMEOUT = 30

#: ``1234:MainThread`` in a component's repr: the process id and thread name.
PROCESS_AND_THREAD = re.compile(r" \d+:[\w-]+ ")


def run_example(name: str) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [sys.executable, "-W", "error", str(EXAMPLES / name)],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("hello.py", "Hello World!\n"),
        ("bob_and_fred.py", "Hello I'm Bob!\nHello I'm Fred!\n"),
        ("dogs.py", "Woof! I'm Bob!\nWoof! I'm Fred!\n"),
        ("channels.py", "Woof! I'm Bob!\n"),
        ("bark.py", "Woof! I'm Bob!\nWoof! I'm Fred!\n"),
        (
            "async_handlers.py",
            "Waiting a moment...\n3 squared is 9\nSquares of 1 to 4: [1, 4, 9, 16]\n",
        ),
        (
            "timers_and_workers.py",
            "Handing a blocking call to a worker thread...\n"
            "tick 1\ntick 2\ntick 3\n"
            "The worker says: the flag was set while I waited\n",
        ),
    ],
)
def test_example_prints_its_lines(name: str, expected: str) -> None:
    result = run_example(name)
    assert result.stdout == expected
    assert result.stderr == ""


def test_pound_draws_its_tree_before_the_dogs_speak() -> None:
    result = run_example("pound.py")
    assert PROCESS_AND_THREAD.sub(" PID:THREAD ", result.stdout) == (
        "* <Pound/* PID:THREAD (queued=0, channels=1, handlers=3) [R]>\n"
        " * <Bob/* PID:THREAD (queued=0, channels=1, handlers=1) [R]>\n"
        " * <Fred/* PID:THREAD (queued=0, channels=1, handlers=1) [R]>\n"
        "Hello I'm Bob!\n"
        "Hello I'm Fred!\n"
    )
    assert result.stderr == ""


def test_debugger_reports_each_event_and_both_errors_and_the_app_goes_on() -> None:
    result = run_example("debugger.py")
    assert result.stdout == "Still running after the errors; stopping now.\n"

    stderr = result.stderr
    # Every event, in dispatch order: the start of each line the Debugger printed for one.
    events = re.findall(r"^<(\w+)\[([^\]]*)\]", stderr, flags=re.MULTILINE)
    assert events == [
        ("Registered", "bob,*:registered"),
        ("Registered", "fred,*:registered"),
        ("Registered", "timer,*:registered"),
        ("Registered", "*:registered"),
        ("Started", "*:started"),
        ("Bark", "bob:bark"),
        ("Bark", "fred:bark"),
        ("ExceptionEvent", "*:exception"),
        ("ExceptionEvent", "*:exception"),
        ("Quit", "*:quit"),
        ("Stopped", "*:stopped"),
    ]
    # One report per dog: which handler failed and why, then the traceback that ends in
    # the misspelt name.
    reports = re.findall(r"^ERROR (.*)$", stderr, flags=re.MULTILINE)
    assert len(reports) == 2
    for report, dog in zip(reports, ["Bob", "Fred"], strict=True):
        assert re.fullmatch(
            rf"<handler Dog\.bark of {dog} on 'bark' \(channel='{dog.lower()}', priority=0\)> "
            r"\(NameError\): name 'name' is not defined",
            report,
        ), report
    assert stderr.count("Traceback (most recent call last):\n") == 2
    assert len(re.findall(r'^  File ".*debugger\.py", line \d+, in bark$', stderr, re.M)) == 2
    assert len(re.findall(r"^    print\(f\"Woof! I'm \{name\}!\"\)$", stderr, re.M)) == 2
    # Python 3.12+ adds a suggestion ("Did you mean: ...?") to the traceback's last line.
    not_defined = r"^NameError: name 'name' is not defined(\. Did you mean: .*)?$"
    assert len(re.findall(not_defined, stderr, re.M)) == 2
    # The exception events say which bark failed: Bob's first, then Fred's.
    failed = re.findall(r"fevent=<Bark\[(\w+):bark\]", stderr)
    assert failed == ["bob", "fred"]
