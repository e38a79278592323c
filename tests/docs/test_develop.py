"""The development environment is what docs/howto/develop.rst says: test-only plugins stay out
of what a developer sees, and are there in the tests that need them."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

RELAYS = Path(sys.executable).with_name("relays")


def relays_outside_the_tests(*arguments: str) -> str:
    """What ``relays ARGUMENTS`` prints in the developer's shell: no variable the test session
    set (tests/kernel/conftest.py puts the example plugin on PYTHONPATH) and no RELAYS_*."""
    environment = {
        key: value
        for key, value in os.environ.items()
        if key != "PYTHONPATH" and not key.startswith("RELAYS_")
    }
    result = subprocess.run(
        [RELAYS, *arguments], capture_output=True, text=True, env=environment, check=True
    )
    return result.stdout


def test_relays_help_lists_no_test_only_command() -> None:
    help_text = relays_outside_the_tests("--help")
    assert "plugins" in help_text  # the kernel's own commands are there
    assert "hello" not in help_text


def test_relays_plugins_lists_no_test_fixture() -> None:
    listing = relays_outside_the_tests("plugins")
    assert "relays-http" in listing
    assert "relays-example-plugin" not in listing
