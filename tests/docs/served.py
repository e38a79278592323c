"""Run what the how-to pages show: their ``relays serve`` transcripts and their examples.

A how-to shows ``$ relays serve ...`` followed by the line the server prints once it
listens. :func:`serve_as_shown` runs that command (with ``--bind`` on port 0 of 127.0.0.1,
from the example's folder), yields what it served (the line it printed, its URL and port),
and stops it by its process id on the way out, keeping the rest of what it wrote.
:func:`masked` hides what varies between runs (the port) so that the line can be compared
with the page's. :func:`load_example` imports an example program as a module,
so that a test can serve its app in a thread.
"""

from __future__ import annotations

import importlib.util
import os
import re
import select
import shlex
import signal
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

from docs_code_blocks import ROOT

from relays_http.testing import RELAYS_COMMAND

#: Seconds for the start and for the stop.
WITHIN = 15
#: A local address in a ``--bind`` option, or in a URL, with its port.
ADDRESS = re.compile(r"(?:127\.0\.0\.1|0\.0\.0\.0):\d+")
#: The supervisor's process id in its serving line.
PID = re.compile(r"\(pid \d+;")


def masked(text: str) -> str:
    """*text* with every local address and port written ``ADDRESS:PORT``, and a process id
    ``PID``: the page shows port 8000 where the test serves on a free one."""
    return PID.sub("(pid PID;", ADDRESS.sub("ADDRESS:PORT", text))


@dataclass
class Served:
    """A ``relays serve`` of a page's: what it printed once it listened, and, once it has
    stopped, the rest of its output."""

    line: str  #: the serving line, its first
    url: str  #: ``http://127.0.0.1:PORT/``
    stdout: str = ""  #: what it printed after the serving line, until it stopped
    stderr: str = ""  #: all it wrote on stderr, until it stopped

    @property
    def port(self) -> int:
        return int(self.url.rstrip("/").rpartition(":")[2])


@contextmanager
def serve_as_shown(command: str, cwd: Path, env: dict[str, str] | None = None) -> Iterator[Served]:
    """Run the ``relays`` *command* of a page from *cwd*, on a free port.

    Yields it once it has printed its first line (the serving line) with the URL in it.
    A SIGTERM stops it on the way out, which must end it with status 0; its
    :class:`Served` then holds the rest of its output. *env* is added to the environment.
    """
    program, *arguments = shlex.split(command)
    assert program == "relays", command
    if "--bind" in arguments:
        arguments = [ADDRESS.sub("127.0.0.1:0", argument) for argument in arguments]
    else:
        arguments += ["--bind", "tcp://127.0.0.1:0"]
    process = subprocess.Popen(
        [*RELAYS_COMMAND, *arguments],
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **(env or {}), "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert process.stdout is not None
        printed = select.select([process.stdout], [], [], WITHIN)[0]
        assert printed, f"relays printed no line within {WITHIN} s: {command}"
        line = process.stdout.readline()  # printed once it listens
        found = re.search(r"https?://127\.0\.0\.1:\d+/", line)
        assert found, (line, process.communicate(timeout=WITHIN))
        served = Served(line, found[0])
        yield served
        process.send_signal(signal.SIGTERM)
        served.stdout, served.stderr = process.communicate(timeout=WITHIN)
        assert process.returncode == 0, served.stderr
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate(timeout=WITHIN)


def load_example(path: Path) -> ModuleType:
    """The program at *path* (``examples/web/routing.py``) imported as a module: its
    ``__main__`` block does not run."""
    name = "_".join(path.relative_to(ROOT).with_suffix("").parts)
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
