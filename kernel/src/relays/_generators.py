"""Generator handlers: circuits' ``yield`` style, driven on asyncio.

Theory of operation
-------------------
A handler written as a generator (a method with ``yield`` and no ``async``) is how
circuits programs wait: ``yield self.call(event)``, ``yield self.wait("name")``, a bare
``yield`` to give way, and any other yielded value is one of the handler's results. The
dispatcher knows nothing of this. When a generator handler is bound
(:class:`~relays.Handler`), it is marked async and what the dispatcher calls is
:func:`starter`'s function, which makes the generator and returns :func:`drive`'s
coroutine: the generator then runs as an ``async def`` handler would, in a task of its
own, with the same accounting (the event is done when it ends, its errors are
reported as ``exception`` events, it is cancelled when the tree stops). Handlers that
are not generators pay nothing for this.

:func:`drive` steps the generator and looks at what each ``yield`` gives it:

- ``None`` (a bare ``yield``): give way for one loop turn, then resume;
- a :class:`~relays.Value` (what ``self.call(event)`` returns): resume once it is done,
  sending the value itself back, as circuits does (read ``.result`` and ``.errors``);
- anything awaitable (``self.wait(...)``, a future, a coroutine): await it and send back
  its result, or throw its error into the generator at the ``yield``;
- a generator: run it as a sub-generator; what it returns is sent back;
- anything else: one result of the handler's event, collected as a returned value is.

What the generator finally returns (``return x``) is a result too. An async generator
(``async def`` with ``yield``) is not driven: it is an ordinary handler whose value is
the async iterator it returns, which is how relays-http pages stream their bodies
(a controller page or a ``request`` handler written with ``async def`` and ``yield``).
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Callable, Coroutine, Generator
from functools import partial
from types import GeneratorType
from typing import TYPE_CHECKING, Any

from ._values import Value

if TYPE_CHECKING:
    from ._events import Event

__all__ = ["drive", "is_generator_handler", "starter"]


def is_generator_handler(callback: Callable[..., Any]) -> bool:
    """True when *callback* is written in circuits' ``yield`` style (a plain generator)."""
    return inspect.isgeneratorfunction(callback)


def starter(
    function: Callable[..., Generator[Any, Any, Any]], event_arg: int
) -> Callable[..., Coroutine[Any, Any, Any]]:
    """What the dispatcher calls for a generator handler: it always gets the event
    (to collect the yielded results into) and passes it on as *event_arg* says (see
    :class:`~relays.Handler`)."""

    def start(event: Event, *args: Any, **kwargs: Any) -> Coroutine[Any, Any, Any]:
        if event_arg == 2 or (event_arg and event.passes_event):
            generator = function(event, *args, **kwargs)
        else:
            generator = function(*args, **kwargs)
        return drive(generator, event.value)  # type: ignore[arg-type]

    return start


async def drive(generator: Generator[Any, Any, Any], value: Value) -> Any:
    """Run *generator* to its end as described in the module's docstring; return what
    it returns. *value* is its event's, which collects the yielded results."""
    stack = [generator]
    send: Any = None
    error: BaseException | None = None
    try:
        while True:
            current = stack[-1]
            try:
                if error is not None:
                    thrown, error = error, None
                    item = current.throw(thrown)
                else:
                    item = current.send(send)
            except StopIteration as finished:
                stack.pop()
                if not stack:
                    return finished.value
                send = finished.value
                continue
            except Exception as raised:
                stack.pop()
                if not stack:
                    raise
                error = raised  # a sub-generator failed: its caller sees it at its yield
                continue
            send = None
            if item is None:
                await asyncio.sleep(0)
            elif type(item) is Value:
                if not item.done:
                    await _finished(item)
                send = item
            elif type(item) is GeneratorType:
                stack.append(item)
            elif inspect.isawaitable(item):
                try:
                    send = await item
                except Exception as raised:
                    error = raised
            else:
                value._collect(item)
    finally:
        for left in reversed(stack):  # cancelled, or failed: run their ``finally``s
            left.close()


async def _finished(value: Value) -> None:
    """Wait until *value* is done, whatever its outcome (the generator reads it)."""
    future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    value.add_done_callback(partial(_wake, future))
    await future


def _wake(future: asyncio.Future[None], _value: Value) -> None:
    if not future.done():
        future.set_result(None)
