"""The plugin's hooks, called in-process the way ``relays serve`` calls them."""

from __future__ import annotations

from relays import Config, Debugger, plugin_manager
from relays._cli import build_parser
from relays_http import Server, TrustedProxies
from relays_logging import AccessLog, ErrorLog
from relays_logging.plugin import relays_app_created, relays_provides


def config_for(*argv: str) -> Config:
    options = build_parser().parse_args(list(argv))
    return Config(options.command, options, plugin_manager())


def test_serve_registers_what_the_options_ask_for() -> None:
    server = Server("tcp://127.0.0.1:0")
    config = config_for(
        "serve", "app:App", "--access-log", "-", "--log-format", "json",
        "--trusted-proxy", "10.0.0.0/8", "--log-debug",
    )  # fmt: skip
    relays_app_created(app=server, config=config)
    children = {type(child): child for child in server.components}
    access = children[AccessLog]
    assert isinstance(access, AccessLog)
    assert access.format == "json"
    assert access.channel == server.channel
    assert ErrorLog in children
    assert TrustedProxies in children
    assert Debugger in children


def test_serve_without_options_adds_only_the_error_log() -> None:
    server = Server("tcp://127.0.0.1:0")
    relays_app_created(app=server, config=config_for("serve", "app:App"))
    kinds = {type(child) for child in server.components}
    assert ErrorLog in kinds
    assert not kinds & {AccessLog, TrustedProxies, Debugger}


def test_other_commands_are_left_alone() -> None:
    server = Server("tcp://127.0.0.1:0")
    before = list(server.components)
    relays_app_created(app=server, config=config_for("run", "app:App"))
    assert list(server.components) == before


def test_options_are_listed() -> None:
    names = {provided.name for provided in relays_provides()}
    assert "serve --access-log" in names
