"""DispatcherPlugin: one dispatcher's hooks, and the ``relays serve`` option mounting it."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from typing import Any

import pytest

import relays
from relays import BaseComponent, Config, DispatcherPlugin, find_dispatcher
from relays._plugins import describe_plugins, provided_names, reset_plugin_manager


class Thing(BaseComponent):
    """The dispatcher the plugin under test provides."""

    def __init__(self, values: Any = None, *, channel: Any = "web") -> None:
        super().__init__(channel=channel)
        self.values = values


def mount_thing(values: Any, *, channel: Any) -> Thing:
    return Thing(values, channel=channel)


def make(**options: Any) -> DispatcherPlugin:
    return DispatcherPlugin(
        "thing",
        f"{__name__}:Thing",
        "things, for a test",
        mount=f"{__name__}:mount_thing",
        **options,
    )


@pytest.fixture(autouse=True)
def fresh_manager(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("RELAYS_DISABLE_PLUGIN_AUTOLOAD", "1")
    reset_plugin_manager()
    yield
    reset_plugin_manager()


def serve(plugin: DispatcherPlugin, arguments: list[str]) -> BaseComponent:
    """Parse ``relays serve`` *arguments* with the plugin's option; the app it built."""
    parser = argparse.ArgumentParser()
    plugin.relays_add_options(command="serve", parser=parser)
    options = parser.parse_args(arguments)
    app = BaseComponent(channel="app")
    config = Config(command="serve", options=options, plugin_manager=relays.plugin_manager())
    plugin.relays_app_created(app=app, config=config)
    return app


def test_the_dispatcher_is_found_by_name_and_listed() -> None:
    relays.register_plugin(make(option="--thing"), name="thing")
    assert find_dispatcher("thing") is Thing
    assert "thing" in provided_names("dispatcher")
    rows = {row["name"]: row for row in describe_plugins()}
    assert rows["thing"]["provides"] == "dispatcher thing"
    with pytest.raises(relays.PluginNotFound):
        find_dispatcher("other")


def test_the_option_mounts_what_mount_builds_on_the_apps_channel() -> None:
    app = serve(make(option="--thing", metavar="VALUE"), ["--thing", "one"])
    (mounted,) = app.components
    assert isinstance(mounted, Thing)
    assert mounted.values == "one"
    assert mounted.channel == "app"
    assert list(serve(make(option="--thing"), []).components) == []


def test_a_repeatable_option_gives_every_value() -> None:
    app = serve(make(option="--thing", repeatable=True), ["--thing", "a", "--thing", "b"])
    (mounted,) = app.components
    assert isinstance(mounted, Thing)
    assert mounted.values == ["a", "b"]


def test_other_commands_get_no_option_and_mount_nothing() -> None:
    plugin = make(option="--thing")
    parser = argparse.ArgumentParser()
    plugin.relays_add_options(command="run", parser=parser)
    assert "--thing" not in parser.format_help()
    app = BaseComponent()
    config = Config(
        command="run",
        options=argparse.Namespace(thing="x"),
        plugin_manager=relays.plugin_manager(),
    )
    plugin.relays_app_created(app=app, config=config)
    assert list(app.components) == []


def test_the_factory_is_imported_only_when_asked_for(monkeypatch: pytest.MonkeyPatch) -> None:
    plugin = DispatcherPlugin("lazy", "relays_not_imported_yet:Thing", "never imported")
    monkeypatch.delitem(sys.modules, "relays_not_imported_yet", raising=False)
    relays.register_plugin(plugin, name="lazy")
    assert "lazy" in provided_names("dispatcher")
    assert "relays_not_imported_yet" not in sys.modules
    with pytest.raises(ModuleNotFoundError):
        find_dispatcher("lazy")


def test_misuse_is_refused_with_what_to_do() -> None:
    with pytest.raises(ValueError, match="both option= and mount="):
        DispatcherPlugin("x", f"{__name__}:Thing", "x", option="--x")
    with pytest.raises(ValueError, match="'--name'"):
        DispatcherPlugin("x", f"{__name__}:Thing", "x", option="x", mount=f"{__name__}:Thing")
    plugin = DispatcherPlugin("x", "no_colon_here", "x")
    with pytest.raises(ValueError, match=r"package\.module:attribute"):
        plugin.relays_dispatcher(name="x")
