"""The relays plugin of relays-io: answers the ``protocol`` hook for ``"line"``.

Thin on purpose: the I/O modules are imported only when a hook asks for them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from relays import Provided
from relays.hookspecs import hookimpl

if TYPE_CHECKING:
    from relays import BaseComponent

__all__ = ["relays_protocol", "relays_provides"]


@hookimpl
def relays_protocol(name: str) -> Callable[..., BaseComponent] | None:
    if name != "line":
        return None
    from ._lines import Line

    return Line


@hookimpl
def relays_provides() -> list[Provided]:
    return [Provided("protocol", "line", "a stream cut into line events, with a length limit")]
