"""The plugin's hooks: the static dispatcher and relays serve --static."""

from __future__ import annotations

import argparse
import pathlib

import pytest

from relays import BaseComponent, Config, find_dispatcher, plugin_manager
from relays_static import Static
from relays_static._cli import add_options, app_created, configure, parse_mount


def test_the_dispatcher_is_found_by_name(docroot: pathlib.Path) -> None:
    factory = find_dispatcher("static")
    assert factory is Static
    assert isinstance(factory(path="/s", docroot=docroot), Static)


def test_provides_names_it() -> None:
    provided = [item for items in plugin_manager().hook.relays_provides() for item in items]
    assert any(item.kind == "dispatcher" and item.name == "static" for item in provided)


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    parser.add_argument("target")
    add_options(parser)
    return parser.parse_args(argv)


def test_static_option(docroot: pathlib.Path) -> None:
    options = parse("app:make", "--static", f"/assets={docroot}", "--static", str(docroot))
    assert options.static == [("/assets", str(docroot)), ("/", str(docroot))]
    assert not options.static_listing


@pytest.mark.parametrize("value", ["assets=.", "/x=/no/such/dir"])
def test_bad_static_options(value: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError):
        parse_mount(value)


def test_a_directory_in_place_of_the_app(docroot: pathlib.Path) -> None:
    config = Config("serve", parse(str(docroot)), plugin_manager())
    configure(config)
    assert config.options.target is None  # no app: only what plugins add
    assert config.options.static == [("/", str(docroot))]
    config = Config("serve", parse("app:make"), plugin_manager())
    configure(config)
    assert config.options.target == "app:make"


def test_app_created_mounts_static(docroot: pathlib.Path) -> None:
    options = parse("app:make", "--static", f"/files={docroot}", "--static-listing")
    server = BaseComponent(channel="web")
    app_created(server, Config("serve", options, plugin_manager()))
    [static] = [child for child in server.components if isinstance(child, Static)]
    assert (static.path, static.docroot, static.listing) == ("/files", str(docroot), True)
