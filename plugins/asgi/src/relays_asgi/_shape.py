"""Telling an ASGI application by its shape, and calling ASGI 2 ones the ASGI 3 way.

An ASGI 3 application is an async callable taking ``(scope, receive, send)``: a
coroutine function, or an object whose ``__call__`` is one (Starlette, FastAPI,
Django's ``ASGIHandler``). An ASGI 2 application is a "double callable": calling it
with the scope returns an instance that is awaited with ``(receive, send)``; in
practice a class whose ``__init__`` takes the scope and whose ``__call__`` is async.

Shapes are read from signatures, never by calling the object: ``relays serve
module:app`` asks every plugin about objects that may be anything (a WSGI callable,
a factory), and calling one to find out could start it.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from ._errors import NotAnAsgiApp

__all__ = ["AsgiApp", "Receive", "Scope", "Send", "as_asgi3", "asgi_version"]

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]
#: An ASGI 3 application.
AsgiApp = Callable[[Scope, Receive, Send], Awaitable[None]]


def _positional_count(function: Callable[..., Any]) -> int | None:
    """How many positional arguments *function* takes; None when it takes any number."""
    try:
        signature = inspect.signature(function)
    except (TypeError, ValueError):
        return None
    count = 0
    for parameter in signature.parameters.values():
        if parameter.kind is parameter.VAR_POSITIONAL:
            return None
        if parameter.kind in (parameter.POSITIONAL_ONLY, parameter.POSITIONAL_OR_KEYWORD):
            count += 1
    return count


def _is_async_callable(obj: object) -> bool:
    if inspect.iscoroutinefunction(obj):
        return True
    call = getattr(obj, "__call__", None)  # noqa: B004 - the method itself, not callable()
    return call is not None and not inspect.isclass(obj) and inspect.iscoroutinefunction(call)


def asgi_version(obj: object) -> int | None:
    """3 or 2 when *obj* has the shape of an ASGI 3 or ASGI 2 application, else None."""
    if inspect.isclass(obj):
        # ASGI 2: the class is called with the scope, its instance with (receive, send).
        call = getattr(obj, "__call__", None)  # noqa: B004
        if call is None or not inspect.iscoroutinefunction(call):
            return None
        takes = _positional_count(obj)  # the class: __init__ without self
        awaited = _positional_count(call)  # unbound: self, receive, send
        if takes in (1, None) and awaited in (3, None):
            return 2
        return None
    if _is_async_callable(obj):
        takes = _positional_count(obj)  # type: ignore[arg-type]
        if takes in (3, None):
            return 3
    return None


def as_asgi3(app: Any, version: int | None = None) -> AsgiApp:
    """*app* as an ASGI 3 callable; raises :class:`NotAnAsgiApp` when it is not one.

    *version* forces the reading (``2`` for a double callable that is not a class,
    such as a function returning a closure, which no signature can tell apart).
    """
    if version is None:
        version = asgi_version(app)
    if version == 3:
        checked: AsgiApp = app
        return checked
    if version == 2:
        if not callable(app):
            raise NotAnAsgiApp(f"an ASGI 2 application is callable, not {app!r}")

        async def asgi3(scope: Scope, receive: Receive, send: Send) -> None:
            instance = app(scope)
            await instance(receive, send)

        return asgi3
    raise NotAnAsgiApp(
        f"{app!r} does not look like an ASGI application: expected an async callable taking"
        " (scope, receive, send), or a class whose instances are awaited with (receive,"
        " send) (ASGI 2); pass version=2 for an ASGI 2 double callable that is not a class"
    )
