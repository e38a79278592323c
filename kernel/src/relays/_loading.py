"""Turning ``module:factory`` strings from the command line into component trees."""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
from pathlib import Path
from typing import Any

from ._components import BaseComponent

__all__ = ["load_app"]


def load_app(target: str) -> BaseComponent:
    """Import ``module:attribute`` (or ``path/to/file.py:attribute``) and build the app.

    The attribute may be a component, or a class or function that returns one when
    called without arguments. The current directory is importable, as with
    ``python -m``. Raises :class:`ValueError` saying what was wrong.
    """
    module_name, colon, attribute = target.partition(":")
    if not colon or not module_name or not attribute:
        raise ValueError(f"expected 'module:factory', got {target!r}")
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    module = _import(module_name)
    obj: Any = module
    for part in attribute.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise ValueError(f"{module_name!r} has no attribute {attribute!r}") from None
    if isinstance(obj, BaseComponent):
        return obj
    adapted = _adapt(obj)
    if adapted is not None:
        return adapted
    if callable(obj):
        obj = obj()
        if isinstance(obj, BaseComponent):
            return obj
        adapted = _adapt(obj)
        if adapted is not None:
            return adapted
    raise ValueError(
        f"{target!r} is not a component, nor an app an installed plugin serves (a WSGI"
        " callable with relays-http, an ASGI app with relays-asgi), nor a factory that"
        " returns one"
    )


def _adapt(obj: object) -> BaseComponent | None:
    """Ask the plugins whether *obj* is an app of a kind they can wrap as a component."""
    from ._plugins import plugin_manager

    adapted: BaseComponent | None = plugin_manager().hook.relays_adapt_app(app=obj)
    return adapted


def _import(name: str) -> Any:
    if name.endswith(".py"):
        path = Path(name).resolve()
        spec = importlib.util.spec_from_file_location(path.stem, path)
        if spec is None or spec.loader is None or not path.exists():
            raise ValueError(f"no such file: {name!r}")
        module = importlib.util.module_from_spec(spec)
        sys.modules[path.stem] = module
        spec.loader.exec_module(module)
        return module
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as error:
        if error.name and name.startswith(error.name):
            raise ValueError(f"no module named {name!r}") from None
        raise
