"""How the child process of ``component.start(process=True, link=parent)`` gets its
own copy of the component.

Theory of operation
-------------------
``start()`` is called on an instance, but nothing crosses to the child pickled: the
child imports the instance's class by ``module:qualname`` and calls it, like the
factory of :func:`~relays_bridge.spawn`. So what matters is which arguments the
instance was made with, and a component does not keep them: recording them for every
component would cost every construction, for the few that ever run in a child. The
rule is therefore:

- A class whose constructor takes no arguments (at most ``channel=``, which is read
  back from the instance) is rebuilt as it is, at no cost.
- A class marked :func:`rebuildable` records, for each instance, the arguments it was
  made with (only marked classes pay for it), and the child is given those.
- Anything else is refused when ``start`` is called, by :class:`NotRebuildable` naming
  the class and why: a class defined inside a function (the child cannot import it),
  a constructor taking arguments nobody recorded, an argument that is not plain data
  (it would travel as JSON: None, bool, int, float, str, lists, str-keyed dicts).

The child's copy is built by its constructor alone: components registered under the
instance afterwards are not in it (make them in ``__init__``).
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any, TypeVar

import attrs

from relays import BaseComponent

from ._codec import Codec
from ._errors import BridgeError

__all__ = ["NotRebuildable", "Recipe", "rebuildable", "recipe_of"]

ComponentClass = TypeVar("ComponentClass", bound=type[BaseComponent])

#: The instance attribute where :func:`rebuildable` keeps ``(args, kwargs)``.
_RECORDED = "_relays_bridge_arguments"
#: Arguments travel to the child as JSON on its command line.
_PLAIN = Codec("json")


class NotRebuildable(BridgeError, TypeError):
    """``start(process=True)`` was called on a component the child process cannot
    build for itself; the message names the class and says what to change."""

    def __init__(self, component_class: type, reason: str) -> None:
        self.component_class = component_class
        super().__init__(
            f"{component_class.__qualname__} cannot be rebuilt in a child process: {reason}"
        )


@attrs.frozen
class Recipe:
    """What the child calls to build its copy: ``factory(*args, **kwargs)``."""

    factory: str
    args: list[Any]
    kwargs: dict[str, Any]


def rebuildable(component_class: ComponentClass) -> ComponentClass:
    """Mark a component class whose instances may run in a child process although its
    constructor takes arguments: each instance remembers the ones it was made with,
    and ``start(process=True)`` gives them to the child (they must be plain data).

    A subclass is marked on its own: it may take other arguments.
    """
    original: Callable[..., None] = component_class.__init__

    @functools.wraps(original)
    def __init__(self: BaseComponent, *args: Any, **kwargs: Any) -> None:
        if type(self) is component_class:  # a marked subclass records its own
            self.__dict__[_RECORDED] = (list(args), dict(kwargs))
        original(self, *args, **kwargs)

    component_class.__init__ = __init__  # type: ignore[method-assign]
    component_class.__relays_rebuildable__ = component_class  # type: ignore[attr-defined]
    return component_class


def recipe_of(component: BaseComponent) -> Recipe:
    """How the child builds its copy of *component*; :class:`NotRebuildable` says why
    it cannot."""
    component_class = type(component)
    qualname = component_class.__qualname__
    if "<locals>" in qualname:
        raise NotRebuildable(
            component_class,
            "it is defined inside a function, where the child cannot import it; define "
            "it at the top level of a module",
        )
    factory = f"{component_class.__module__}:{qualname}"
    if getattr(component_class, "__relays_rebuildable__", None) is component_class:
        args, kwargs = component.__dict__[_RECORDED]
    else:
        args, kwargs = [], _channel_argument(component)
    unsendable = _PLAIN.unsendable(args, kwargs)
    if unsendable is not None:
        where, why = unsendable
        raise NotRebuildable(
            component_class,
            f"its argument {where} {why}; the child is given its arguments as JSON: "
            "None, bool, int, float, str, lists and dicts with str keys",
        )
    return Recipe(factory, args, kwargs)


def _channel_argument(component: BaseComponent) -> dict[str, Any]:
    """No arguments, or only ``channel=`` (read back from the instance); else refuse."""
    component_class = type(component)
    parameters = inspect.signature(component_class).parameters
    others = [name for name in parameters if name != "channel"]
    if others:
        raise NotRebuildable(
            component_class,
            f"its constructor takes {', '.join(others)}, and which values this instance "
            "was made with is not recorded; mark the class @relays_bridge.rebuildable "
            "so that its instances remember them",
        )
    if "channel" in parameters and component.channel != component_class.channel:
        return {"channel": component.channel}
    return {}
