"""The Loader: a ``load(name)`` event imports a module and registers its component.

How a module says which component it offers, in order: a module attribute named
``component`` (a component class, or a function that returns a component); else the
one :class:`~relays.BaseComponent` subclass *defined* in the module (classes it only
imports do not count). Two or more, and no ``component`` attribute, is an error that
lists them, rather than a silent pick.
"""

from __future__ import annotations

import importlib
import inspect
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path
from types import ModuleType
from typing import Any

from ._components import BaseComponent
from ._events import Event
from ._handlers import handler

__all__ = ["Load", "LoadError", "Loaded", "Loader"]


class LoadError(ImportError):
    """The module cannot be loaded as a component; the message names it and says why."""


class Load(Event):
    """``load(name)``: import module *name* and register its component under the Loader."""


class Loaded(Event):
    """``loaded(name, component)``: module *name*'s component joined the tree."""


class Loader(BaseComponent):
    """Loads plugin modules by name, from ``sys.path`` and the folders in *paths*.

    Each loaded component is made with ``init_args`` and ``init_kwargs`` and registered
    under the Loader (so unregistering the Loader unloads them all). ``call(Load(name))``
    returns the component; a module that does not exist or offers no component fails
    with :class:`LoadError` naming it.
    """

    channel = "loader"

    def __init__(
        self,
        paths: Iterable[str | Path] = (),
        *,
        init_args: Iterable[Any] = (),
        init_kwargs: Mapping[str, Any] | None = None,
        channel: Any = "loader",
    ) -> None:
        super().__init__(channel=channel)
        self.paths = [str(Path(path).resolve()) for path in paths]
        self.init_args = tuple(init_args)
        self.init_kwargs = dict(init_kwargs or {})
        #: Module name -> the component loaded from it.
        self.loaded: dict[str, BaseComponent] = {}

    @handler("load")
    def load(self, name: str) -> BaseComponent:
        """Import *name* and register its component (once: a second load returns it)."""
        if name in self.loaded:
            return self.loaded[name]
        module = self._import(name)
        factory = self._factory_of(module)
        component = factory(*self.init_args, **self.init_kwargs)
        if not isinstance(component, BaseComponent):
            raise LoadError(
                f"{name}.component made {type(component).__name__!r}, not a component",
                name=name,
            )
        component.register(self)
        self.loaded[name] = component
        self.fire(Loaded(name, component))
        return component

    def _import(self, name: str) -> ModuleType:
        for path in reversed(self.paths):
            if path not in sys.path:
                sys.path.insert(0, path)
        try:
            return importlib.import_module(name)
        except ModuleNotFoundError as error:
            if error.name is not None and name.startswith(error.name):
                where = ", ".join(self.paths) or "sys.path"
                raise LoadError(f"no module named {name!r} in {where}", name=name) from None
            raise

    @staticmethod
    def _factory_of(module: ModuleType) -> Any:
        chosen = getattr(module, "component", None)
        if chosen is not None:
            if not callable(chosen):
                raise LoadError(
                    f"{module.__name__}.component must be a component class or a function",
                    name=module.__name__,
                )
            return chosen
        defined = [
            member
            for _, member in inspect.getmembers(module, inspect.isclass)
            if issubclass(member, BaseComponent) and member.__module__ == module.__name__
        ]
        if len(defined) == 1:
            return defined[0]
        if not defined:
            raise LoadError(
                f"module {module.__name__!r} defines no component: define one, or set"
                " `component = make` to a function that returns one",
                name=module.__name__,
            )
        names = ", ".join(sorted(member.__name__ for member in defined))
        raise LoadError(
            f"module {module.__name__!r} defines {len(defined)} components ({names}):"
            " set `component = TheOne` in it to choose",
            name=module.__name__,
        )
