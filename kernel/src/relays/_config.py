"""Small records plugins and commands pass around."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

import attrs

if TYPE_CHECKING:
    import pluggy

__all__ = ["Config", "Provided"]


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
