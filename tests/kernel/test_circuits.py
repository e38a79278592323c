"""circuits names relays does not have fail with a message that names the replacement."""

from __future__ import annotations

import importlib

import pytest

import relays


def test_importing_a_circuits_name_says_what_to_use_instead() -> None:
    with pytest.raises(ImportError, match=r"relays has no Manager.*any component is a root"):
        exec("from relays import Manager", {})


def test_a_circuits_io_name_points_to_the_plugin() -> None:
    with pytest.raises(ImportError, match=r"from relays_io import File"):
        relays.File  # noqa: B018 - the attribute access is the test


def test_other_missing_names_are_plain_attribute_errors() -> None:
    assert not hasattr(relays, "NoSuchThing")
    with pytest.raises(ImportError, match="cannot import name 'NoSuchThing'"):
        exec("from relays import NoSuchThing", {})


def test_every_replacement_is_a_name_relays_really_lacks() -> None:
    from relays._circuits import REPLACEMENTS

    module = importlib.import_module("relays")
    assert [name for name in REPLACEMENTS if name in vars(module)] == []


def test_the_circuits_bridge_points_to_relays_bridge() -> None:
    with pytest.raises(ImportError, match=r"from relays_bridge import Bridge"):
        exec("from relays import Bridge", {})
