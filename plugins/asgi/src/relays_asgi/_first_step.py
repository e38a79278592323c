"""Running an app's first step at once on Python 3.11, as an eager task does on 3.12+.

Theory of operation
-------------------
On Python 3.12+ the app's task is created with ``eager_start=True``: its coroutine
runs at once, inside the ``request`` dispatch, up to its first real suspension. An
app that answers without waiting for anything (a hello-world, most JSON endpoints)
has sent its whole response when the task returns, and the dispatcher answers
relays-http right there, with no handler task and no loop turn.

Python 3.11 has no eager tasks: a new task's first step is a ``call_soon`` later, so
the dispatcher would need an async handler (a second task, and a paused dispatch) to
wait for it. :func:`start_task` does on 3.11 what ``eager_start`` does on 3.12: it
creates the task as usual, then runs the coroutine's first step now, with that task
entered as the current task (``asyncio.current_task()``, task groups, cancel scopes
and timeouts see the task that goes on running the app) and in the task's own
context. The task itself runs :class:`_Rest`: when the first step suspended, it waits
on what the coroutine was waiting on and then drives the coroutine on, passing
cancellation through; when the first step finished, its one step ends it.

This uses asyncio's ``_enter_task`` and ``_leave_task``, which the 3.11 event loop
uses to run every task step; where they are missing, or a task is running already
(so no other can be entered), the task starts the ordinary way.
"""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Coroutine, Generator
from typing import Any

__all__ = ["start_task"]

_enter_task = getattr(asyncio.tasks, "_enter_task", None)
_leave_task = getattr(asyncio.tasks, "_leave_task", None)


class _Stepped:
    """A coroutine's first step, taken now; what it waits on, for the task to go on."""

    __slots__ = ("coroutine", "finished", "waiting_on")

    def __init__(self, coroutine: Coroutine[Any, Any, None]) -> None:
        self.coroutine = coroutine
        self.finished = False
        self.waiting_on: Any = None

    def take(self, loop: asyncio.AbstractEventLoop, task: asyncio.Task[None]) -> None:
        assert _enter_task is not None
        assert _leave_task is not None
        _enter_task(loop, task)
        try:
            self.waiting_on = self.coroutine.send(None)
        except StopIteration:
            self.finished = True
        finally:
            _leave_task(loop, task)


class _Rest(Coroutine[Any, Any, None]):
    """The task's body: the coroutine, driven on from where its first step left it.

    A coroutine object of its own (rather than a generator function) so that a
    cancellation thrown in before the task's first step still reaches the app,
    where it waits.
    """

    __slots__ = ("_first", "_stepped")

    def __init__(self, stepped: _Stepped) -> None:
        self._stepped = stepped
        self._first = True

    def send(self, value: Any) -> Any:
        stepped = self._stepped
        if self._first:
            self._first = False
            if stepped.finished:
                raise StopIteration
            waiting_on = stepped.waiting_on
            stepped.waiting_on = None
            return waiting_on  # the task waits on it (None: a bare yield, step again)
        return stepped.coroutine.send(value)

    def throw(self, typ: Any, value: Any = None, traceback: Any = None) -> Any:
        stepped = self._stepped
        self._first = False
        error = typ if value is None else value
        if stepped.finished:
            raise error
        stepped.waiting_on = None
        return stepped.coroutine.throw(error)

    def close(self) -> None:
        self._stepped.coroutine.close()

    def __await__(self) -> Generator[Any, None, None]:
        return self  # type: ignore[return-value]

    def __next__(self) -> Any:
        return self.send(None)


def start_task(coroutine: Coroutine[Any, Any, None]) -> tuple[asyncio.Task[None], bool]:
    """A task running *coroutine*, whose first step has run before this returns, and
    whether that step finished the coroutine (the task's own step will only end it).

    For coroutines that handle their own errors (anything but cancellation): an
    exception out of the first step propagates from here.
    """
    loop = asyncio.get_running_loop()
    if _enter_task is None or asyncio.current_task(loop) is not None:
        return loop.create_task(coroutine), False
    stepped = _Stepped(coroutine)
    context = contextvars.copy_context()
    task: asyncio.Task[None] = loop.create_task(_Rest(stepped), context=context)
    try:
        context.run(stepped.take, loop, task)
    except BaseException:
        task.cancel()
        raise
    return task, stepped.finished
