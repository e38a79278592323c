"""The ASGI ``lifespan`` protocol: the app's startup and shutdown, run once per server.

Theory of operation
-------------------
The app is called once with a ``lifespan`` scope, in a task that lives as long as
the server. Its ``receive`` hands out ``lifespan.startup``, then waits until the
server stops and hands out ``lifespan.shutdown``; its ``send`` settles the step in
progress (``*.complete`` or ``*.failed`` with the app's message).

Support is optional in the spec: an app that raises before it answered the startup
(Django's ``ASGIHandler`` says lifespan is not supported, a bare function asserts the
scope is ``http``) does not use it, and the server goes on without it (mode
``"auto"``). Once the app answered, a failure is a failure. In mode ``"on"`` an app
that does not speak lifespan fails to start; ``"off"`` never calls it.

The ``state`` dict of the scope is the app's to fill at startup; each request's
scope gets a shallow copy of it (the ``state`` extension).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Literal

from ._errors import AsgiProtocolError, LifespanFailed
from ._scope import lifespan_scope
from ._shape import AsgiApp

__all__ = ["Lifespan", "LifespanMode"]

logger = logging.getLogger("relays.asgi")

#: Whether to run the app's lifespan: if it speaks it, always, or never.
LifespanMode = Literal["auto", "on", "off"]


class Lifespan:
    """Runs one app's lifespan; owns its task, its state and where it stands."""

    def __init__(self, app: AsgiApp, mode: LifespanMode) -> None:
        self.app = app
        self.mode = mode
        #: The ``state`` the app filled at startup; None when lifespan is not used.
        self.state: dict[str, Any] | None = None
        self._scope_state: dict[str, Any] = {}
        self._task: asyncio.Task[None] | None = None
        self._step: asyncio.Future[None] | None = None
        self._expected = "lifespan.startup"
        self._shutdown_asked = asyncio.Event()
        self._answered_startup = False
        self._startup_given = False

    async def startup(self, timeout: float | None) -> None:
        """Run the startup; raises :class:`LifespanFailed` with the app's message."""
        if self.mode == "off":
            return
        loop = asyncio.get_running_loop()
        self._step = loop.create_future()
        self._task = loop.create_task(self._run(), name="relays-asgi-lifespan")
        try:
            async with asyncio.timeout(timeout):
                await self._step
        except TimeoutError:
            self._task.cancel()
            raise LifespanFailed(
                f"the app did not finish its startup within {timeout} s"
                " (AsgiLimits.startup_timeout)"
            ) from None
        except _Unsupported:
            return
        self.state = self._scope_state

    async def shutdown(self, timeout: float | None) -> None:
        """Run the shutdown; a failure is logged (the server stops anyway)."""
        task = self._task
        if task is None or task.done() or self.state is None:
            return
        self._step = asyncio.get_running_loop().create_future()
        self._expected = "lifespan.shutdown"
        self._shutdown_asked.set()
        try:
            async with asyncio.timeout(timeout):
                await self._step
        except TimeoutError:
            logger.error(
                "the ASGI app did not finish its shutdown within %s s"
                " (AsgiLimits.shutdown_timeout)",
                timeout,
            )
        except LifespanFailed as error:
            logger.error("the ASGI app's shutdown failed: %s", error.message)
        except _Unsupported:
            pass
        finally:
            if not task.done():
                task.cancel()

    async def _run(self) -> None:
        try:
            await self.app(lifespan_scope(self._scope_state), self._receive, self._send)
        except asyncio.CancelledError:
            raise
        except BaseException as error:
            self._ended(error)
        else:
            self._ended(None)

    def _ended(self, error: BaseException | None) -> None:
        step = self._step
        if step is None or step.done():
            told = step is not None and not step.cancelled() and step.exception() is not None
            if error is not None and not told:  # a failure it reported is logged already
                logger.error(
                    "the ASGI app's lifespan failed",
                    exc_info=(type(error), error, error.__traceback__),
                )
            return
        if not self._answered_startup and self.mode == "auto":
            logger.info(
                "the ASGI app does not use the lifespan protocol (%s); going on without it",
                "it returned" if error is None else f"{type(error).__name__}: {error}",
            )
            step.set_exception(_Unsupported())
        elif error is None:
            step.set_exception(
                LifespanFailed(f"the app returned during {self._expected} without answering it")
            )
        else:
            step.set_exception(LifespanFailed(f"{type(error).__name__}: {error}"))

    async def _receive(self) -> dict[str, Any]:
        if not self._startup_given:
            self._startup_given = True
            return {"type": "lifespan.startup"}
        await self._shutdown_asked.wait()
        return {"type": "lifespan.shutdown"}

    async def _send(self, message: dict[str, Any]) -> None:
        kind = message.get("type") if isinstance(message, dict) else None
        expected = self._expected
        step = self._step
        if kind not in (f"{expected}.complete", f"{expected}.failed") or step is None:
            raise AsgiProtocolError(
                f"during {expected} a lifespan app sends '{expected}.complete' or"
                f" '{expected}.failed', not {message!r}"
            )
        if expected == "lifespan.startup":
            self._answered_startup = True
        if step.done():
            raise AsgiProtocolError(f"the app answered {expected} twice")
        if kind.endswith(".complete"):
            step.set_result(None)
        else:
            step.set_exception(LifespanFailed(str(message.get("message", "")) or kind))


class _Unsupported(Exception):
    """The app does not speak lifespan (mode auto): go on without it."""
