"""The ``relays`` command's reference page: its synopses and transcripts are what it prints.

Each ``text`` block that starts with ``relays`` is a synopsis, compared with the usage line
of ``relays [COMMAND] --help`` (whitespace aside: argparse wraps long lines). The
transcripts are run from the root of the repository: ``relays plugins`` with every plugin but
relays-sockets blocked (the page shows an installation of relays-sockets alone; its version
is masked), and ``relays graph`` as it is. Plugins that are not ours (the kernel tests' example
plugin, active in a run that has them) are blocked: they add options of their own.
"""

from __future__ import annotations

import os
import re
import subprocess
from importlib.metadata import entry_points

import pytest
from docs_code_blocks import ROOT, Block, blocks_of

from relays_http.testing import RELAYS_COMMAND

PAGE = ROOT / "docs" / "reference" / "cli.rst"
#: Seconds a command may take.
TIMEOUT = 30
#: A distribution's version in the table of ``relays plugins``.
VERSION = re.compile(r"^\d+(\.\d+)+\S*$")

SYNOPSES = [b for b in blocks_of(PAGE) if b.language == "text" and b.text.startswith("relays")]


def not_ours() -> list[str]:
    """The plugins installed that are not distributions of this repository (the kernel
    tests' example plugin, active while they run): the page documents ours."""
    ours = {folder.name for folder in (ROOT / "plugins").iterdir() if folder.is_dir()}
    return [e.name for e in entry_points(group="relays") if e.name not in ours]


def relays(*arguments: str, env: dict[str, str] | None = None) -> str:
    result = subprocess.run(
        [*RELAYS_COMMAND, *arguments],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        env={**os.environ, **(env or {})},
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def transcript(start: str) -> Block:
    (block,) = [b for b in blocks_of(PAGE) if b.text.startswith(f"$ {start}")]
    return block


@pytest.mark.parametrize("block", SYNOPSES, ids=lambda b: b.text.split("[")[0].strip())
def test_a_synopsis_is_the_usage_line(block: Block) -> None:
    words = block.text.split()
    command = [] if words[1].startswith("[") else [words[1]]
    printed = relays(*command, "--help", env={"RELAYS_BLOCK_PLUGINS": ",".join(not_ours())})
    usage = printed.split("\n\n")[0].removeprefix("usage: ")
    assert " ".join(usage.split()) == " ".join(block.text.split())


def test_every_command_has_a_synopsis() -> None:
    assert sorted(b.text.split()[1] for b in SYNOPSES) == ["[-h]", "graph", "run"]


def table(text: str) -> list[list[str]]:
    """The cells of a table printed in columns, versions masked."""
    rows = [re.split(r"\s{2,}", line.strip()) for line in text.splitlines() if line.strip()]
    return [["VERSION" if VERSION.match(cell) else cell for cell in row] for row in rows]


def test_relays_plugins() -> None:
    block = transcript("relays plugins")
    (command,) = block.commands()
    others = [e.name for e in entry_points(group="relays") if e.name != "sockets"]
    printed = relays(*command.split()[1:], env={"RELAYS_BLOCK_PLUGINS": ",".join(others)})
    assert table(printed) == table(block.output_of(command))


def test_relays_graph() -> None:
    block = transcript("relays graph")
    (command,) = block.commands()
    assert relays(*command.split()[1:]) == block.output_of(command)


def test_the_table_reader() -> None:
    assert table("a  b    c d\nx  1.2.3.dev0  y\n") == [["a", "b", "c d"], ["x", "VERSION", "y"]]
