"""Finding components in a tree: by type, by name, by channel; the whole tree as a list.

circuits' ``circuits.core.utils`` helpers, with the same names and arguments, so
programs that search their trees port unchanged. All of them walk the tree depth
first, parents before children, in registration order.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Literal, TypeVar, overload

from ._components import BaseComponent

__all__ = ["findchannel", "findcmp", "findroot", "findtype", "flatten"]

C = TypeVar("C", bound=BaseComponent)


def flatten(root: BaseComponent) -> Iterator[BaseComponent]:
    """*root* and every component below it, depth first, parents first."""
    return root.walk()


def findroot(component: BaseComponent) -> BaseComponent:
    """The top of the tree *component* is in (itself when it has no parent)."""
    return component.root


@overload
def findtype(root: BaseComponent, kind: type[C], all: Literal[False] = False) -> C | None: ...
@overload
def findtype(root: BaseComponent, kind: type[C], all: Literal[True]) -> list[C]: ...
def findtype(root: BaseComponent, kind: type[C], all: bool = False) -> C | list[C] | None:
    """The first component under *root* (itself included) that is a *kind*.

    ``all=True`` gives every one, as a list. ``None`` (or ``[]``) when there is none.
    """
    found = [component for component in root.walk() if isinstance(component, kind)]
    return found if all else (found[0] if found else None)


@overload
def findcmp(
    root: BaseComponent, which: type[C] | str, all: Literal[False] = False
) -> BaseComponent | None: ...
@overload
def findcmp(
    root: BaseComponent, which: type[C] | str, all: Literal[True]
) -> list[BaseComponent]: ...
def findcmp(
    root: BaseComponent, which: type[C] | str, all: bool = False
) -> BaseComponent | list[BaseComponent] | None:
    """Like :func:`findtype`, but *which* may also be a component's ``name`` (a string)."""
    if isinstance(which, str):
        found = [component for component in root.walk() if component.name == which]
    else:
        found = [component for component in root.walk() if isinstance(component, which)]
    return found if all else (found[0] if found else None)


@overload
def findchannel(
    root: BaseComponent, channel: Any, all: Literal[False] = False
) -> BaseComponent | None: ...
@overload
def findchannel(root: BaseComponent, channel: Any, all: Literal[True]) -> list[BaseComponent]: ...
def findchannel(
    root: BaseComponent, channel: Any, all: bool = False
) -> BaseComponent | list[BaseComponent] | None:
    """The first component under *root* whose ``channel`` is *channel* (``all=True``: each)."""
    found = [component for component in root.walk() if component.channel == channel]
    return found if all else (found[0] if found else None)
