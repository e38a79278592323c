"""The shell transcripts of the docs that run programs of the repository are replayed.

A transcript is a ``console`` block: ``$ command`` lines, each followed by what it prints. Every
block whose commands all run a program of ``examples/`` or ``docs/snippets/`` with ``python``
is replayed here from the repository root, and its output compared with the page's, exactly,
except for the process id and thread name a component's repr shows (pages write
``4242:MainThread``).
"""

from __future__ import annotations

import re
import subprocess
import sys

import pytest
from docs_code_blocks import ROOT, Block, all_blocks

#: A command this file replays: ``python`` and a program of the repository.
PROGRAM = re.compile(r"^python (?P<program>(?:examples|docs/snippets)/\S+\.py)$")
#: ``1234:MainThread`` in a component's repr, shown as ``4242:MainThread`` in the pages.
PROCESS_AND_THREAD = re.compile(r" \d+:(?P<thread>[\w-]+) ")
#: The hint Python 3.12 and later add to a NameError (3.11 prints the message alone).
DID_YOU_MEAN = re.compile(r"\. Did you mean: '[^']*'\?$", flags=re.M)
#: Seconds a program may take; each one ends by itself in well under one.
TIMEOUT = 30


def replayable(block: Block) -> bool:
    commands = block.commands()
    return bool(commands) and all(PROGRAM.match(command) for command in commands)


#: Every transcript replayed here (the meta-test reads this list).
REPLAYED = [b for b in all_blocks() if b.language == "console" and replayable(b)]


@pytest.mark.parametrize("block", REPLAYED, ids=lambda b: b.where)
def test_transcript_prints_what_the_page_shows(block: Block) -> None:
    for command in block.commands():
        match = PROGRAM.match(command)
        assert match is not None
        result = subprocess.run(
            [sys.executable, "-W", "error", match["program"]],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
            check=False,
        )
        assert result.returncode == 0, result.stderr
        output = PROCESS_AND_THREAD.sub(r" 4242:\g<thread> ", result.stdout)
        assert output == block.output_of(command), f"$ {command}"


#: Pages that show what a program prints on stderr, abridged, in a ``text`` block: page ->
#: the program. ``...`` in a line stands for any text; lines may be left out, never reordered.
STDERR_SHOWN = {"docs/tutorial/07-debugger.rst": "examples/tutorial/debugger.py"}


def abridged_matches(shown: str, printed: str) -> list[str]:
    """The lines of *shown* not found, in order, among the lines of *printed*."""
    printed_lines = iter(printed.splitlines())
    missing = []
    for line in shown.splitlines():
        pattern = re.compile(".*?".join(re.escape(part) for part in line.rstrip().split("...")))
        if not any(pattern.fullmatch(candidate.rstrip()) for candidate in printed_lines):
            missing.append(line)
            printed_lines = iter(printed.splitlines())  # report every missing line, not one
    return missing


@pytest.mark.parametrize(("page", "program"), STDERR_SHOWN.items())
def test_abridged_stderr_is_what_the_program_prints(page: str, program: str) -> None:
    (shown,) = [b for b in all_blocks() if b.path == page and b.language == "text"]
    result = subprocess.run(
        [sys.executable, "-W", "error", program],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    printed = PROCESS_AND_THREAD.sub(r" 4242:\g<thread> ", result.stderr)
    printed = printed.replace(f"{ROOT}/", "")  # pages show paths relative to the repository
    # Python 3.12 and later end some errors with a hint that 3.11 does not print.
    printed = DID_YOU_MEAN.sub("", printed)
    assert abridged_matches(shown.text, printed) == []


def test_abridged_matching_keeps_order_and_elisions() -> None:
    printed = "one 1\ntwo 2\nthree 3\n"
    assert abridged_matches("one ...\nthree 3\n", printed) == []
    assert abridged_matches("three 3\none 1\n", printed) == ["one 1"]
    assert abridged_matches("four\n", printed) == ["four"]
