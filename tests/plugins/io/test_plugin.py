"""relays-io registers through the plugin hooks like any other plugin."""

from __future__ import annotations

from relays import plugin_manager


def test_it_says_what_it_provides() -> None:
    provided = [
        (item.kind, item.name)
        for items in plugin_manager().hook.relays_provides()
        for item in items
    ]
    assert ("protocol", "line") in provided


def test_other_protocol_names_are_left_to_other_plugins() -> None:
    from relays_io import plugin

    assert plugin.relays_protocol(name="http") is None
