"""Values: the results of a fired event, available now or later.

``fire`` returns a :class:`Value` at once. Handlers fill it in as they finish; it is
*done* when the last one (async ones included) has. Awaiting it gives the result or
raises the handler's error; code on another thread can block on :meth:`Value.get`.
An asyncio future is made only when somebody awaits a value that is not done yet (one
per awaiter, so cancelling one awaiter never affects another), and none otherwise:
fire-and-forget costs nothing.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Generator
from functools import partial
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._events import Event

__all__ = ["Value"]


class Value:
    """The outcome of one fired event.

    ``result`` is ``None`` when no handler returned anything, the single value when
    one did, and a list when several did. When a handler raised, ``errors`` is true
    and ``result`` holds the exception.
    """

    __slots__ = ("_callbacks", "_results", "done", "errors", "event", "result")

    def __init__(self, event: Event) -> None:
        self.event = event
        self.done = False
        self.errors = False
        self.result: Any = None
        self._results: list[Any] | None = None
        #: Called with this value when it is done: awaiters' futures and done callbacks.
        self._callbacks: list[Callable[[Value], None]] | None = None

    # -- filled in by the dispatcher -------------------------------------------------

    def _collect(self, result: Any) -> None:
        if self.errors:
            return
        results = self._results
        if results is None:
            self._results = [result]
        else:
            results.append(result)

    def _fail(self, error: BaseException) -> None:
        if not self.errors:
            self.errors = True
            self.result = error

    def _adopt(self, other: Value) -> None:
        """Take a finished *other* value's outcome as one more handler's (a handler
        returned it)."""
        if other.errors:
            self._fail(other.result)
        elif other.result is not None:
            self._collect(other.result)

    def _finish(self) -> None:
        if not self.errors:
            results = self._results
            if results is not None:
                self.result = results[0] if len(results) == 1 else results
        self.done = True
        callbacks = self._callbacks
        if callbacks is not None:
            self._callbacks = None
            for callback in callbacks:
                callback(self)

    def _settle(self, future: asyncio.Future[Any]) -> None:
        if future.done():
            return  # its awaiter was cancelled
        if self.errors:
            future.set_exception(self.result)
        else:
            future.set_result(self.result)

    # -- for users -------------------------------------------------------------------

    @property
    def results(self) -> list[Any]:
        """Every handler's non-``None`` return value, in the order the handlers ran.

        Unlike :attr:`result` it is always a list, so one handler returning a list and
        several handlers returning one value each cannot be confused.
        """
        return list(self._results) if self._results is not None else []

    def add_done_callback(self, callback: Callable[[Value], None]) -> None:
        """Call *callback(value)* when done (at once when it already is)."""
        if self.done:
            callback(self)
        elif self._callbacks is None:
            self._callbacks = [callback]
        else:
            self._callbacks.append(callback)

    def outcome(self) -> Any:
        """The result, or raise the handler's error. Only meaningful once done."""
        if not self.done:
            raise RuntimeError(f"{self.event!r} has not finished yet")
        if self.errors:
            raise self.result
        return self.result

    def future(self) -> asyncio.Future[Any]:
        """A new asyncio future, on the running loop, that ends with this value.

        Every call gives a future of its own, so one awaiter cancelling (a timeout)
        never cancels another's.
        """
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self.add_done_callback(partial(Value._settle, future=future))
        return future

    def __await__(self) -> Generator[Any, None, Any]:
        if self.done:  # (``outcome()``, inlined: a ``call()`` round trip ends here)
            if self.errors:
                raise self.result
            return self.result
        return (yield from self.future().__await__())

    def get(self, timeout: float | None = None) -> Any:
        """Block the calling thread until done; for code outside the event loop.

        Raises :class:`TimeoutError` after *timeout* seconds. Never call it on the
        loop's own thread: the value could not finish while the loop is blocked.
        """
        if not self.done:
            finished = threading.Event()
            self.add_done_callback(lambda _value: finished.set())
            # ``done`` is set before the callbacks are taken, so a callback added too
            # late to be called always finds ``done`` already true here.
            if not self.done and not finished.wait(timeout):
                raise TimeoutError(f"{self.event!r} did not finish within {timeout} s")
        return self.outcome()

    @property
    def value(self) -> Any:
        """Not here: circuits' name. Raises :class:`AttributeError` saying what to use.

        A property, not ``__getattr__``: a class with ``__getattr__`` loses CPython's
        fast attribute access, and the dispatcher reads a value's fields on every event
        (``__getattr__`` here cost 5-11% of a dispatch on 3.11).
        """
        raise AttributeError(
            "relays' Value has no 'value' (circuits' name): read .result, or await it"
        )

    def __repr__(self) -> str:
        state = "error" if self.errors else "done" if self.done else "pending"
        return f"<Value {state} {self.result!r} for {self.event.name!r}>"
