"""The kernel's tests see the example plugin (tests/kernel/plugin_example) as installed.

It is activated here, for the test session only, rather than installed into .venv, so that
a developer's ``relays --help`` does not list its test-only ``hello`` command.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

_spec = importlib.util.spec_from_file_location(
    "relays_example_activation", Path(__file__).parent / "plugin_example" / "activate.py"
)
assert _spec is not None
assert _spec.loader is not None
_activation_module = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_activation_module)


def pytest_configure(config: pytest.Config) -> None:
    # Before test modules are imported: they look for relays_example at collection.
    config.stash[_ACTIVATION] = _activation_module.activate()
    from relays._plugins import reset_plugin_manager

    reset_plugin_manager()  # a manager made earlier did not see the plugin


def pytest_unconfigure(config: pytest.Config) -> None:
    _activation_module.deactivate(config.stash[_ACTIVATION])


_ACTIVATION = pytest.StashKey[object]()
