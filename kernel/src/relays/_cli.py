"""The ``relays`` command: subcommands come from plugins, the kernel's own included."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from ._config import Config, SettingsError, apply_settings, read_config_file
from ._plugins import plugin_manager
from ._version import __version__

__all__ = ["build_parser", "main"]


def build_parser() -> argparse.ArgumentParser:
    """The full parser: every installed plugin's commands and options included."""
    manager = plugin_manager()
    parser = argparse.ArgumentParser(
        prog="relays", description="Run, inspect and serve relays applications."
    )
    parser.add_argument("--version", action="version", version=f"relays {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    manager.hook.relays_add_commands(commands=commands)
    for name, command_parser in commands.choices.items():
        manager.hook.relays_add_options(command=name, parser=command_parser)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    try:
        where, tables = read_config_file(Path.cwd())
        apply_settings(_commands(parser), where, tables, os.environ)
    except SettingsError as error:
        print(f"relays: error: {error}", file=sys.stderr)
        return 2
    options = parser.parse_args(argv)
    handler = getattr(options, "handler", None)
    if handler is None:
        parser.print_help()
        return 2
    config = Config(options.command, options, plugin_manager())
    try:
        config.plugin_manager.hook.relays_configure.call_historic(kwargs={"config": config})
        return int(handler(config) or 0)
    except ValueError as error:  # bad input from the command line: say what, not a trace
        print(f"relays {options.command}: error: {error}", file=sys.stderr)
        return 2


def _commands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    """Each command's own parser, by name."""
    for action in parser._actions:  # argparse has no public way to its subparsers
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
