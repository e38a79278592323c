"""``relays serve --resource module:root``: find the tree's root."""

from __future__ import annotations

import importlib
from typing import Any

from ._resource import Resource
from ._site import Site

__all__ = ["load_root", "mount_root"]


def mount_root(target: str, *, channel: Any) -> Site:
    """``relays serve --resource MODULE:ROOT``: a :class:`Site` serving that root."""
    return Site(load_root(target), channel=channel)


def load_root(target: str) -> Resource:
    """The :class:`Resource` named by ``module:attribute`` (called if it is not one)."""
    module_name, colon, attribute = target.partition(":")
    if not colon or not module_name or not attribute:
        raise SystemExit(f"--resource takes MODULE:ROOT, got {target!r}")
    found = getattr(importlib.import_module(module_name), attribute)
    root = found if isinstance(found, Resource) else found()
    if not isinstance(root, Resource):
        raise SystemExit(f"--resource {target}: {root!r} is not a relays_resources.Resource")
    return root
