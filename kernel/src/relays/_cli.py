"""The ``relays`` command: subcommands come from plugins, the kernel's own included."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from ._config import Config
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


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
