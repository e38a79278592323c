"""The README's examples run as printed (their ``.run()`` swapped for a bounded start/stop)."""

from __future__ import annotations

import contextlib
import io
import re
import socket
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest

README = Path(__file__).resolve().parent.parent / "README.md"
BLOCKS = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)
LAST_LINE = re.compile(r"^\((?P<tree>.*)\)\.run\(\)\s*$", flags=re.M)


def build(source: str, **replacements: str) -> Any:
    """Execute a README block, keeping the tree it would have run instead of running it."""
    for old, new in replacements.items():
        source = source.replace(old, new)
    source, count = LAST_LINE.subn(r"app = (\g<tree>)", source)
    assert count == 1, "each README example ends with (tree).run()"
    namespace: dict[str, Any] = {"__name__": "readme_example"}
    exec(compile(source, str(README), "exec"), namespace)
    return namespace["app"]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_there_are_two_examples() -> None:
    assert len(BLOCKS) == 2


def test_the_kernel_example_barks() -> None:
    output = io.StringIO()
    with contextlib.redirect_stdout(output), contextlib.redirect_stderr(io.StringIO()):
        app = build(BLOCKS[0])
        app.start()
        deadline = time.monotonic() + 5
        while "Woof!" not in output.getvalue() and time.monotonic() < deadline:
            time.sleep(0.01)
        app.stop()
    assert "Woof! I'm Dog" in output.getvalue()


@pytest.mark.integration
def test_the_web_example_answers() -> None:
    port = free_port()
    app = build(BLOCKS[1], **{"127.0.0.1:8000": f"127.0.0.1:{port}"})
    app.start()
    try:
        deadline = time.monotonic() + 10
        while True:  # start() returns when the tree runs; the socket binds just after
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.02)
        base = f"http://127.0.0.1:{port}"
        with urllib.request.urlopen(f"{base}/", timeout=5) as answer:
            assert answer.read() == b"Hello, World!"
        with urllib.request.urlopen(f"{base}/hello?name=Ada", timeout=5) as answer:
            assert answer.read() == b'{"greeting":"Hello, Ada!"}'
    finally:
        app.stop()
