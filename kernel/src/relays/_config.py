"""Small records plugins and commands pass around, and the settings that give a
command's options their values when the command line does not: a config file, then
``RELAYS_*`` environment variables, the command line overriding both."""

from __future__ import annotations

import argparse
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs

if TYPE_CHECKING:
    import pluggy

__all__ = [
    "CONFIG_FILE",
    "ENVIRONMENT_PREFIX",
    "Config",
    "Provided",
    "SettingsError",
    "apply_settings",
    "read_config_file",
]


@attrs.frozen
class Provided:
    """One thing a plugin answers for: ``Provided("transport", "tcp")``."""

    kind: str
    name: str
    description: str = ""


@attrs.define
class Config:
    """What a command was asked to do: its name and the parsed options."""

    command: str
    options: argparse.Namespace
    plugin_manager: pluggy.PluginManager

    def get(self, option: str, default: Any = None) -> Any:
        """An option's value, or *default* when this command has no such option."""
        return getattr(self.options, option, default)


# -- settings: a config file and the environment, under the command line -------------

#: The config file ``relays`` reads from the current directory.
CONFIG_FILE = "relays.toml"
#: Environment variables named ``RELAYS_<OPTION>`` set an option (``RELAYS_WORKERS=4``).
ENVIRONMENT_PREFIX = "RELAYS_"
_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off"})


class SettingsError(ValueError):
    """A config file or ``RELAYS_*`` variable that cannot be used; the message names it."""


def read_config_file(directory: Path) -> tuple[str, dict[str, Any]]:
    """``(where, tables)`` from ``relays.toml`` in *directory*, else from the
    ``[tool.relays]`` table of its ``pyproject.toml``; ``("", {})`` when neither.

    *tables* maps command names to their options: ``{"serve": {"workers": 4}}``.
    """
    own = directory / CONFIG_FILE
    if own.is_file():
        return CONFIG_FILE, _load_toml(own)
    project = directory / "pyproject.toml"
    if project.is_file():
        table = _load_toml(project).get("tool", {}).get("relays")
        if table is not None:
            if not isinstance(table, dict):
                raise SettingsError("pyproject.toml: [tool.relays] must be a table")
            return "pyproject.toml [tool.relays]", table
    return "", {}


def _load_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as file:
            return tomllib.load(file)
    except tomllib.TOMLDecodeError as error:
        raise SettingsError(f"{path.name}: {error}") from None


def apply_settings(
    parsers: dict[str, argparse.ArgumentParser],
    where: str,
    tables: dict[str, Any],
    environ: Mapping[str, str],
) -> None:
    """Make the config file's options, then the environment's, the defaults of each
    command's parser, so that the command line overrides both (see docs/reference/cli).

    Raises :class:`SettingsError` for an unknown command or option in the file, or a
    value that does not fit, naming it.
    """
    for key, value in tables.items():
        if key not in parsers:
            if not isinstance(value, dict):
                raise SettingsError(
                    f"{where}: {key!r} must be under the table of the command it is for, "
                    f"e.g. [serve] in {CONFIG_FILE} or [tool.relays.serve] in pyproject.toml"
                )
            raise SettingsError(
                f"{where}: [{key}] names no command; commands: {', '.join(sorted(parsers))}"
            )
        if not isinstance(value, dict):
            raise SettingsError(f"{where}: {key!r} must be a table of options")
    for command, parser in parsers.items():
        options = _settable(parser)
        values: dict[str, Any] = {}
        for key, value in tables.get(command, {}).items():
            dest = key.replace("-", "_")
            action = options.get(dest)
            if action is None:
                raise SettingsError(
                    f"{where}: [{command}] has no option {key!r}; "
                    f"options: {', '.join(sorted(options))}"
                )
            values[dest] = _from_file(action, value, f"{where}: [{command}] {key}")
        for dest, action in options.items():
            variable = ENVIRONMENT_PREFIX + dest.upper()
            text = environ.get(variable, "")
            if text != "":
                values[dest] = _from_text(action, text, variable)
        if values:
            parser.set_defaults(**values)


def _settable(parser: argparse.ArgumentParser) -> dict[str, argparse.Action]:
    """The options a setting may give: every option but help and version, and the
    positional arguments that may be left out."""
    settable = {}
    for action in parser._actions:  # argparse has no public list of its actions
        if isinstance(action, (argparse._HelpAction, argparse._VersionAction)):
            continue
        if action.option_strings or action.nargs == "?":
            settable[action.dest] = action
    return settable


def _is_flag(action: argparse.Action) -> bool:
    return action.nargs == 0 and isinstance(action.const, bool)


def _from_file(action: argparse.Action, value: Any, name: str) -> Any:
    if _is_flag(action):
        if not isinstance(value, bool):
            raise SettingsError(f"{name}: give true or false, not {value!r}")
        return value
    if isinstance(value, (dict, list, bool)):
        raise SettingsError(f"{name}: give a single value, not {value!r}")
    return _from_text(action, str(value), name)


def _from_text(action: argparse.Action, text: str, name: str) -> Any:
    if _is_flag(action):
        lowered = text.strip().lower()
        if lowered in _TRUE:
            return True
        if lowered in _FALSE:
            return False
        raise SettingsError(f"{name}: give 1 or 0 (true or false), not {text!r}")
    value: Any = text
    if action.type is not None:
        try:
            value = action.type(text)  # type: ignore[operator]
        except (argparse.ArgumentTypeError, TypeError, ValueError) as error:
            raise SettingsError(f"{name}: {error}") from None
    if action.choices is not None and value not in action.choices:
        choices = ", ".join(map(str, action.choices))
        raise SettingsError(f"{name}: {value!r} is not one of {choices}")
    return value
