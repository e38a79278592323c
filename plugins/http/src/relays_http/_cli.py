"""The ``relays serve`` and ``relays demo`` commands."""

from __future__ import annotations

from typing import Any

__all__ = ["add_commands"]


def add_commands(commands: Any) -> None:
    """Add ``serve`` and ``demo`` to the ``relays`` command line."""
