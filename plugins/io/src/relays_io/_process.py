"""Child processes as components, on asyncio's subprocess support.

Theory of operation: ``spawn()`` starts the program with its three standard streams
on pipes and fires ``started(process)``. Two reader tasks turn what the child prints
into ``read(data)`` events on ``"<channel>.stdout"`` and ``"<channel>.stderr"``, each
waiting for the handlers of one chunk before reading the next (a flood of output holds
back the child instead of filling our memory). ``terminated(code)`` is fired once the
child has exited *and* both streams are drained, so it always comes after the last
``read``. A negative code is the signal that ended it, as with :mod:`subprocess`.

When the tree stops, a child still running is asked to end (SIGTERM) and killed after
``stop_timeout`` seconds, so no process outlives its application by accident.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections.abc import Mapping, Sequence
from typing import Any

from relays import BaseComponent, Event, Started, handler
from relays.transports import Error, Read

__all__ = [
    "DEFAULT_STOP_TIMEOUT",
    "Kill",
    "Process",
    "ProcessError",
    "SendSignal",
    "Spawn",
    "Terminate",
    "Terminated",
]

#: Seconds a child gets to exit after SIGTERM when the tree stops, before SIGKILL.
DEFAULT_STOP_TIMEOUT = 5.0
_READ_SIZE = 64 * 1024


class ProcessError(OSError):
    """A child process could not be started (or written to); the message names it."""


class Spawn(Event):
    """``spawn()``: start the Process's program (again)."""


class Terminate(Event):
    """``terminate()``: ask the child to end (SIGTERM)."""


class Kill(Event):
    """``kill()``: end the child now (SIGKILL)."""


class SendSignal(Event):
    """``send_signal(signo)``: send the child a signal."""


class Terminated(Event):
    """``terminated(code)``: the child exited with *code* (``-N``: killed by signal N)."""


class Process(BaseComponent):
    """Runs *args* (a program and its arguments, or a shell line with ``shell=True``).

    With ``autostart`` (the default) the child is spawned when the tree starts or when
    the Process joins a running tree; otherwise fire ``spawn()``. Handles ``spawn``,
    ``write(data)`` (to the child's stdin), ``close()`` (closes stdin), ``terminate``,
    ``kill`` and ``send_signal(signo)``. A program that cannot start fires
    ``error(ProcessError)`` naming it, and no ``terminated``.
    """

    channel = "process"

    def __init__(
        self,
        args: Sequence[str] | str,
        *,
        cwd: str | os.PathLike[str] | None = None,
        env: Mapping[str, str] | None = None,
        shell: bool = False,
        channel: Any = "process",
        autostart: bool = True,
        stop_timeout: float = DEFAULT_STOP_TIMEOUT,
    ) -> None:
        super().__init__(channel=channel)
        if shell and not isinstance(args, str):
            raise TypeError("shell=True takes the command line as one string")
        if not shell and (isinstance(args, str) or not args):
            raise TypeError("args must be a non-empty list: the program, then its arguments")
        self.args = args
        self.cwd = cwd
        self.env = env
        self.shell = shell
        self.autostart = autostart
        self.stop_timeout = stop_timeout
        self.stdout_channel = f"{channel}.stdout"
        self.stderr_channel = f"{channel}.stderr"
        self._child: asyncio.subprocess.Process | None = None
        self._watcher: asyncio.Task[None] | None = None
        self._began = False
        self.returncode: int | None = None

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.args!r} pid={self.pid} code={self.returncode}>"

    @property
    def pid(self) -> int | None:
        """The child's process id while it runs (and after), ``None`` before ``spawn``."""
        return self._child.pid if self._child is not None else None

    @property
    def alive(self) -> bool:
        """True from ``started`` until the child has exited."""
        return self._child is not None and self._child.returncode is None

    # -- life cycle ------------------------------------------------------------------

    @handler("started", channel="*")
    async def _on_started(self, component: BaseComponent) -> None:
        if component is self.root and self.autostart and not self._began:
            await self.spawn()

    @handler("registered", channel="*")
    async def _on_registered(self, component: BaseComponent, parent: BaseComponent) -> None:
        if component is self and self.running and self.autostart and not self._began:
            await self.spawn()

    @handler("stopped", channel="*")
    async def _on_stopped(self, component: BaseComponent) -> None:
        if component is self.root:
            await self._end()

    @handler("unregistered", channel="*")
    async def _on_unregistered(self, component: BaseComponent, parent: BaseComponent) -> None:
        if component is self:
            await self._end()

    # -- handlers --------------------------------------------------------------------

    @handler("spawn")
    async def spawn(self) -> None:
        """Start the child (again, once it has terminated); fires ``started(process)``."""
        if self.alive:
            self.fire(Error(ProcessError(f"{self.args!r} is already running (pid {self.pid})")))
            return
        self._began = True
        self.returncode = None
        pipes: dict[str, Any] = {
            "stdin": asyncio.subprocess.PIPE,
            "stdout": asyncio.subprocess.PIPE,
            "stderr": asyncio.subprocess.PIPE,
            "cwd": self.cwd,
            "env": dict(self.env) if self.env is not None else None,
        }
        try:
            if self.shell:
                assert isinstance(self.args, str)
                child = await asyncio.create_subprocess_shell(self.args, **pipes)
            else:
                child = await asyncio.create_subprocess_exec(*self.args, **pipes)
        except OSError as error:
            program = self.args if self.shell else self.args[0]
            problem = ProcessError(f"could not start {program!r}: {error.strerror or error}")
            problem.errno = error.errno
            self.fire(Error(problem))
            return
        self._child = child
        self.fire(Started(self))
        self._watcher = asyncio.get_running_loop().create_task(self._watch(child))

    @handler("write")
    def write(self, data: str | bytes) -> None:
        """Send *data* to the child's standard input (``str`` is sent as UTF-8).

        Synchronous on purpose: writes and a following ``close()`` keep their order.
        What the child has not read yet waits in the pipe's buffer.
        """
        child = self._child
        if child is None or child.stdin is None or child.stdin.is_closing():
            self.fire(Error(ProcessError(f"{self.args!r} is not running: nothing to write to")))
            return
        child.stdin.write(data.encode() if isinstance(data, str) else data)

    @handler("close")
    def close(self) -> None:
        """Close the child's standard input: it reads end-of-file."""
        child = self._child
        if child is not None and child.stdin is not None and not child.stdin.is_closing():
            child.stdin.close()

    @handler("send_signal")
    def send_signal(self, signo: int) -> None:
        """Send signal *signo* to the child (nothing once it has exited)."""
        if self.alive:
            assert self._child is not None
            with contextlib.suppress(ProcessLookupError):
                self._child.send_signal(signo)

    @handler("terminate")
    def terminate(self) -> None:
        """Ask the child to end (SIGTERM)."""
        self.send_signal(signal.SIGTERM)

    @handler("kill")
    def kill(self) -> None:
        """End the child now (SIGKILL)."""
        self.send_signal(signal.SIGKILL)

    # -- the child's output ----------------------------------------------------------

    async def _watch(self, child: asyncio.subprocess.Process) -> None:
        readers = [
            self._pump(child.stdout, self.stdout_channel),
            self._pump(child.stderr, self.stderr_channel),
        ]
        await asyncio.gather(*readers)
        code = await child.wait()
        self.returncode = code
        if child.stdin is not None:
            child.stdin.close()
        self.fire(Terminated(code))

    async def _pump(self, stream: asyncio.StreamReader | None, channel: str) -> None:
        if stream is None:
            return
        while data := await stream.read(_READ_SIZE):
            # Waiting for the handlers paces the child (see the module docstring).
            with contextlib.suppress(Exception):  # a failing handler was reported already
                await self.fire(Read(data), channel)

    async def _end(self) -> None:
        watcher = self._watcher
        if watcher is None or watcher.done():
            return
        self.terminate()
        try:
            await asyncio.wait_for(asyncio.shield(watcher), self.stop_timeout)
        except TimeoutError:
            self.kill()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(watcher, self.stop_timeout)
