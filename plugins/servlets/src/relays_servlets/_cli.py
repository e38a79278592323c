"""``relays serve --servlets [PREFIX=]DIR``: the contexts of the command line."""

from __future__ import annotations

from typing import Any

from ._application import Servlets

__all__ = ["mount_contexts"]


def mount_contexts(mounts: list[str], *, channel: Any) -> Servlets:
    """:class:`Servlets` for each ``PREFIX=DIR`` of *mounts* (a bare ``DIR`` is ``/``)."""
    contexts: dict[str, str] = {}
    for mount in mounts:
        prefix, equals, directory = mount.partition("=")
        contexts[prefix if equals else "/"] = directory if equals else mount
    return Servlets(contexts, channel=channel)
