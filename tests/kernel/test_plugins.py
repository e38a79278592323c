"""Plugin discovery through real entry points (tests/kernel/plugin_example is installed)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator

import pytest

import relays
from relays import PluginNotFound, find_dispatcher, find_protocol, find_transport
from relays._plugins import describe_plugins, reset_plugin_manager
from relays.hookspecs import hookimpl
from relays.testing import MemoryTransport

pytest.importorskip("relays_example", reason="dev.py installs tests/kernel/plugin_example")


@pytest.fixture(autouse=True)
def fresh_manager() -> Iterator[None]:
    reset_plugin_manager()
    yield
    reset_plugin_manager()


def test_an_installed_plugin_answers_lookups() -> None:
    transport = find_transport("loop")
    assert transport.scheme == "loop"
    assert transport.server is MemoryTransport
    hello = find_dispatcher("hello")(greeting="Hi")
    assert hello.hello("you") == "Hi, you!"


def test_known_parts_of_installed_but_unloaded_plugins_say_so() -> None:
    # The workspace has relays-sockets and relays-static installed: "pip install" would be
    # wrong advice (tests/integration/test_fresh_install.py checks it where they are not).
    with pytest.raises(PluginNotFound, match="relays-sockets is installed but not loaded") as e:
        _find_without_plugins("tcp")
    assert e.value.package == "relays-sockets"
    with pytest.raises(PluginNotFound, match="relays-static is installed but not loaded"):
        _find_without_plugins("static", kind="dispatcher")


def test_a_name_no_plugin_provides_lists_the_names_installed_plugins_do() -> None:
    # relays-http provides dispatchers "default", "virtualhosts" and "wsgi", not "http".
    with pytest.raises(PluginNotFound, match=r"provide these dispatchers: .*'default'") as e:
        find_dispatcher("http")
    assert e.value.package is None
    assert "pip install" not in str(e.value)


def _find_without_plugins(name: str, kind: str = "transport") -> None:
    os.environ["RELAYS_DISABLE_PLUGIN_AUTOLOAD"] = "1"
    try:
        reset_plugin_manager()
        {"transport": find_transport, "dispatcher": find_dispatcher}[kind](name)
    finally:
        del os.environ["RELAYS_DISABLE_PLUGIN_AUTOLOAD"]


def test_unknown_parts_list_what_is_installed() -> None:
    with pytest.raises(PluginNotFound, match=r"provide these protocols: .*'http'"):
        find_protocol("gopher")


def test_autoload_can_be_disabled(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RELAYS_DISABLE_PLUGIN_AUTOLOAD", "1")
    reset_plugin_manager()
    with pytest.raises(PluginNotFound):
        find_transport("loop")
    assert describe_plugins() == []


def test_a_plugin_can_be_blocked_by_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RELAYS_BLOCK_PLUGINS", "other, example")
    reset_plugin_manager()
    with pytest.raises(PluginNotFound):
        find_dispatcher("hello")


def test_plugins_can_be_registered_by_hand(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RELAYS_DISABLE_PLUGIN_AUTOLOAD", "1")
    reset_plugin_manager()

    class Inline:
        @hookimpl
        def relays_protocol(self, name: str) -> object:
            return MemoryTransport if name == "inline" else None

    relays.register_plugin(Inline(), name="inline")
    assert find_protocol("inline") is MemoryTransport


def test_describe_lists_distribution_version_and_provisions() -> None:
    (row,) = [r for r in describe_plugins() if r["name"] == "example"]
    assert row == {
        "name": "example",
        "distribution": "relays-example-plugin",
        "version": "1.2.3",
        "provides": "transport loop, dispatcher hello",
    }


def test_every_hook_spec_is_documented_and_keyword_only_friendly() -> None:
    from relays import hookspecs

    specs = [name for name in hookspecs.__all__ if name.startswith("relays_")]
    assert len(specs) == 11
    for name in specs:
        function = getattr(hookspecs, name)
        assert function.__doc__, name
        assert len(function.__doc__.strip()) > 40, name
        assert hasattr(relays.plugin_manager().hook, name)


def test_plugins_command_in_a_subprocess() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "relays._cli", "plugins"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "relays-example-plugin" in result.stdout


def test_a_plugin_adds_its_own_hook_specs() -> None:
    manager = relays.plugin_manager()
    caller = manager.hook.relays_example_greeting
    assert caller.has_spec()
    assert caller(name="Ada") == "Greetings, Ada"
    manager.check_pending()  # every implementation matches a spec
