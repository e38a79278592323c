"""The relays plugin of relays-http: the ``http`` protocol and the ``serve``/``demo`` commands.

Thin on purpose: loading every installed plugin must stay cheap, so the server
modules are imported only when a hook is actually asked for them.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from relays import Provided
from relays.hookspecs import hookimpl

if TYPE_CHECKING:
    from relays import BaseComponent

__all__ = [
    "relays_adapt_app",
    "relays_add_commands",
    "relays_dispatcher",
    "relays_protocol",
    "relays_provides",
]


@hookimpl
def relays_protocol(name: str) -> Callable[..., BaseComponent] | None:
    if name != "http":
        return None
    from ._server import HTTP

    return HTTP


@hookimpl
def relays_dispatcher(name: str) -> Callable[..., BaseComponent] | None:
    if name == "default":
        from ._dispatcher import Dispatcher

        return Dispatcher
    if name == "virtualhosts":
        from ._virtualhosts import VirtualHosts

        return VirtualHosts
    if name == "wsgi":
        from ._wsgi_gateway import Gateway

        return Gateway
    return None


@hookimpl
def relays_adapt_app(app: object) -> BaseComponent | None:
    """A WSGI application becomes a :class:`~relays_http.Gateway` serving it at ``/``.

    Recognised by its signature alone (it is never called here): a callable taking
    exactly two required positional parameters, ``(environ, start_response)``. A Flask
    or Django application object, a plain function and a bound method all have it;
    ASGI apps take three (or one), components and their classes are not looked at.
    """
    if not _is_wsgi_application(app):
        return None
    from ._wsgi_gateway import Gateway

    return Gateway({"/": app})  # type: ignore[dict-item]


def _is_wsgi_application(app: object) -> bool:
    """Whether *app* has a WSGI application's shape (see :func:`relays_adapt_app`)."""
    from relays import BaseComponent

    if isinstance(app, BaseComponent) or not callable(app):
        return False
    if isinstance(app, type) and issubclass(app, BaseComponent):
        return False
    if inspect.iscoroutinefunction(app) or inspect.iscoroutinefunction(
        getattr(app, "__call__", None)  # noqa: B004 - the method itself is looked at
    ):
        return False
    try:
        signature = inspect.signature(app)
    except (TypeError, ValueError):  # some built-ins have none: not ours to guess
        return False
    positional = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    required = [
        parameter
        for parameter in signature.parameters.values()
        if parameter.default is inspect.Parameter.empty
        and parameter.kind not in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)
    ]
    return len(required) == 2 and all(parameter.kind in positional for parameter in required)


@hookimpl
def relays_provides() -> list[Provided]:
    return [
        Provided("protocol", "http", "HTTP/1.1 server protocol (request/response events)"),
        Provided("dispatcher", "default", "controllers mounted at paths (Dispatcher)"),
        Provided("dispatcher", "virtualhosts", "Host field to path prefix (VirtualHosts)"),
        Provided("dispatcher", "wsgi", "WSGI applications at path prefixes (Gateway)"),
        Provided("command", "serve", "serve an HTTP app: relays serve module:factory"),
        Provided("command", "demo", "serve the demo site"),
    ]


@hookimpl
def relays_add_commands(commands: Any) -> None:
    from ._cli import add_commands

    add_commands(commands)
