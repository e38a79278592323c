"""The relays plugin of relays-asgi: the ``asgi`` dispatcher, and ASGI apps for ``relays serve``.

Thin on purpose: loading every installed plugin must stay cheap, so the dispatcher is
imported only when a hook is actually asked for it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from relays import Provided
from relays.hookspecs import hookimpl

if TYPE_CHECKING:
    from relays import BaseComponent

__all__ = ["relays_adapt_app", "relays_dispatcher", "relays_provides"]


@hookimpl
def relays_dispatcher(name: str) -> Callable[..., BaseComponent] | None:
    if name != "asgi":
        return None
    from ._dispatcher import Asgi

    return Asgi


@hookimpl
def relays_adapt_app(app: object) -> BaseComponent | None:
    """An ASGI application (by its shape, never called to find out) as an :class:`Asgi`."""
    from ._shape import asgi_version

    if asgi_version(app) is None:
        return None
    from ._dispatcher import Asgi

    return Asgi(app)


@hookimpl
def relays_provides() -> list[Provided]:
    return [Provided("dispatcher", "asgi", "an ASGI 3 or 2 application at a path prefix (Asgi)")]
