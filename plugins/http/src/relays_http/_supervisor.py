"""Supervised worker processes for ``relays serve --workers N``.

Theory of operation
-------------------
One parent process, the *supervisor*, serves nothing itself: it forks N workers
that each run the app and listen on the same port (``SO_REUSEPORT``), and then
only watches them, as gunicorn's arbiter does. It sleeps in ``select()`` on two
pipes: a wake-up pipe its signal handlers write a byte to (so a signal is
handled in the main loop, never inside a handler), and a *ready* pipe on which a
worker writes its pid once it listens. Each turn of the loop handles the signals
that arrived, reaps the workers that exited, reads who is ready, and starts
workers where some are missing.

Workers, slots and generations. Each worker fills one of N *slots* and belongs to
a generation. The workers of the current generation are kept at one per slot: one
that exits while nobody asked it to is logged with its cause (exit status or
signal) and replaced. A worker that dies within ``boot_grace`` seconds of its start
(a crash at start-up, say) makes the supervisor wait before the next start,
doubling the wait each time up to ``max_restart_delay``, so a broken app does not
spin the machine; a worker that lived longer resets the wait. A worker that
cannot start at all (the app fails to build, the port cannot be bound) exits with
:data:`WORKER_BOOT_FAILED`, and the supervisor stops everything: retrying cannot
help.

Signals. ``SIGHUP`` reloads gracefully: a new generation of N workers starts (one
per slot) and, once all of them listen, the old workers get ``SIGTERM`` and drain
(they finish the responses they started, then exit); if the new ones do not listen within
``ready_timeout`` the reload is abandoned and the old ones keep serving.
``SIGTERM`` or a first ``SIGINT`` stops gracefully: every worker gets ``SIGTERM``
and the supervisor exits once all are gone, killing any still there after
``stop_timeout``. A second ``SIGINT`` kills every worker at once.

Why slots. The work a worker does is given its slot number, so that whatever the
slot stands for outlives the workers that fill it. ``relays serve`` gives each slot
a listening socket the supervisor opened and keeps open: with ``SO_REUSEPORT`` the
system queues each connection on one socket of the group, and a socket closed with
connections still in its queue resets them. A worker that stops (a reload, a
crash) only closes its own descriptor; the connections queued on its slot's socket
wait there for the next worker of the slot (on a reload, already listening) instead
of being reset.

The other way round. A worker must not outlive its supervisor (a new start would
then run beside orphans). On Linux a worker asks the kernel for ``SIGTERM`` when
its parent dies (``prctl(PR_SET_PDEATHSIG)``); everywhere, it also watches an
*alive* pipe whose only writer is the supervisor, and stops its tree when the
pipe reports end of file: the supervisor is gone.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import errno
import logging
import os
import select
import signal
import struct
import sys
import time
from collections.abc import Callable, Iterable
from typing import Any

from relays import BaseComponent, handler

__all__ = [
    "EXIT_FORCED",
    "WORKER_BOOT_FAILED",
    "Supervisor",
    "WorkerLink",
    "die_with_parent",
]

logger = logging.getLogger("relays.workers")

#: A worker's exit status when it could not start serving; the supervisor then stops.
WORKER_BOOT_FAILED = 3
#: The supervisor's exit status when a second SIGINT killed the workers.
EXIT_FORCED = 128 + signal.SIGINT

#: Seconds a worker must live for its death not to count as "died at once".
BOOT_GRACE = 1.0
#: The first wait before restarting a worker that died at once; doubled each time.
FIRST_RESTART_DELAY = 0.1
#: The longest wait between two restarts of workers that keep dying at once.
MAX_RESTART_DELAY = 10.0
#: Seconds new workers get to listen (at start and on reload).
READY_TIMEOUT = 30.0
#: Longest ``select()`` sleep: a safety net, every event also wakes the loop.
_IDLE_WAKE = 1.0

#: Marks the supervisor's own warnings for log filters that drop repeats (relays-logging's
#: RepeatFilter): every worker's death is worth a line, and the restart back-off already
#: bounds how many there are.
_BOUNDED = {"relays_limited": True}

_PID = struct.Struct("!I")
_PR_SET_PDEATHSIG = 1


def die_with_parent(parent: int) -> None:
    """In a worker: get SIGTERM when the supervisor dies (Linux), or exit if it already has."""
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    if os.getppid() != parent:  # it died before we asked
        os._exit(0)


def _describe(code: int) -> str:
    """How a process ended, from :func:`os.waitstatus_to_exitcode`'s number."""
    if code >= 0:
        return f"exit status {code}"
    try:
        return f"killed by {signal.Signals(-code).name}"
    except ValueError:
        return f"killed by signal {-code}"


class WorkerLink(BaseComponent):
    """In a worker's tree: reports to the supervisor once *server* listens, and stops the
    tree when the supervisor is gone (end of file on the alive pipe)."""

    def __init__(self, server: Any, ready_fd: int, alive_fd: int) -> None:
        super().__init__(channel=server.channel)
        self.server = server
        self._ready_fd = ready_fd
        self._alive_fd = alive_fd
        self._watching: Any = None

    @handler("ready")
    def _on_ready(self, transport: Any, address: Any) -> None:
        if transport is self.server.transport:
            os.write(self._ready_fd, _PID.pack(os.getpid()))

    @handler("started", channel="*")
    def _on_started(self, component: BaseComponent) -> None:
        if component is self.root:
            self._watching = asyncio.get_running_loop()
            self._watching.add_reader(self._alive_fd, self._supervisor_gone)

    @handler("stopped", channel="*")
    def _on_stopped(self, component: BaseComponent) -> None:
        if component is self.root and self._watching is not None:
            self._watching.remove_reader(self._alive_fd)
            self._watching = None

    def _supervisor_gone(self) -> None:
        # The supervisor never writes: readable means end of file, it is gone.
        if self._watching is not None:
            self._watching.remove_reader(self._alive_fd)
            self._watching = None
        logger.warning("worker %d: the supervisor is gone; stopping", os.getpid())
        self.root.stop()


class _Worker:
    __slots__ = ("generation", "pid", "ready", "retiring", "slot", "started")

    def __init__(self, pid: int, slot: int, generation: int) -> None:
        self.pid = pid
        self.slot = slot
        self.generation = generation
        self.started = time.monotonic()
        self.ready = False
        self.retiring = False  # asked to stop: its exit is expected


#: What a worker process runs: given its slot (0 to N - 1) and the ready and alive pipe
#: ends, returns an exit status.
WorkerMain = Callable[[int, int, int], int]


class Supervisor:
    """Keeps *count* workers running *work* and answers the signals (see the module)."""

    def __init__(
        self,
        count: int,
        work: WorkerMain,
        *,
        stop_timeout: float,
        on_ready: Callable[[], None] = lambda: None,
        close_in_worker: Callable[[], None] = lambda: None,
        boot_grace: float = BOOT_GRACE,
        max_restart_delay: float = MAX_RESTART_DELAY,
        ready_timeout: float = READY_TIMEOUT,
    ) -> None:
        if count < 1:
            raise ValueError(f"the number of workers must be at least 1, not {count}")
        self.count = count
        self.stop_timeout = stop_timeout
        self.boot_grace = boot_grace
        self.max_restart_delay = max_restart_delay
        self.ready_timeout = ready_timeout
        self._work = work
        self._on_ready = on_ready
        self._close_in_worker = close_in_worker
        self._workers: dict[int, _Worker] = {}
        self._generation = 0  # the generation kept at ``count`` workers
        self._previous_generation = 0  # the one serving while a reload starts
        self._generations = 0  # how many were ever made: each gets a new number
        self._signals: list[int] = []
        self._interrupts = 0
        self._stopping = False
        self._force_at: float | None = None
        self._exit_code = 0
        self._announced = False
        self._reload_deadline: float | None = None
        self._restart_delay = 0.0
        self._restart_at = 0.0
        self._ready_buffer = b""
        self._wakeup = os.pipe()
        self._ready = os.pipe()
        self._alive = os.pipe()
        for fd in (*self._wakeup, self._ready[0]):
            os.set_blocking(fd, False)

    # -- the loop --------------------------------------------------------------------

    def run(self) -> int:
        """Supervise until stopped; the exit status for the command line."""
        watched = (signal.SIGCHLD, signal.SIGHUP, signal.SIGTERM, signal.SIGINT)
        previous = {signo: signal.signal(signo, self._on_signal) for signo in watched}
        try:
            self._spawn(range(self.count))
            self._reload_deadline = time.monotonic() + self.ready_timeout
            while self._workers or not self._stopping:
                self._sleep()
                self._handle_signals()
                self._reap()
                self._read_ready()
                self._check_deadlines()
                self._replace_missing()
        finally:
            for signo, old in previous.items():
                signal.signal(signo, old)
            for fd in (*self._wakeup, *self._ready, *self._alive):
                with contextlib.suppress(OSError):
                    os.close(fd)
        return self._exit_code

    def _on_signal(self, signo: int, frame: Any) -> None:
        self._signals.append(signo)
        with contextlib.suppress(BlockingIOError):
            os.write(self._wakeup[1], b"!")

    def _sleep(self) -> None:
        now = time.monotonic()
        deadlines = [
            when
            for when in (self._force_at, self._reload_deadline, self._pending_restart())
            if when is not None
        ]
        timeout = min([_IDLE_WAKE, *(max(0.0, when - now) for when in deadlines)])
        if self._signals:
            timeout = 0.0
        with contextlib.suppress(InterruptedError):
            select.select([self._wakeup[0], self._ready[0]], [], [], timeout)
        with contextlib.suppress(BlockingIOError):
            while os.read(self._wakeup[0], 512):
                pass

    def _pending_restart(self) -> float | None:
        return self._restart_at if self._missing_slots() and not self._stopping else None

    # -- signals ---------------------------------------------------------------------

    def _handle_signals(self) -> None:
        while self._signals:
            signo = self._signals.pop(0)
            if signo == signal.SIGHUP:
                self._reload()
            elif signo == signal.SIGTERM:
                self._stop("SIGTERM")
            elif signo == signal.SIGINT:
                self._interrupts += 1
                if self._interrupts == 1:
                    self._stop("SIGINT")
                else:
                    self._force()
            # SIGCHLD only wakes the loop: _reap does the work.

    def _reload(self) -> None:
        if self._stopping:
            return
        if self._reload_deadline is not None:
            logger.warning("SIGHUP ignored: workers are still starting")
            return
        self._previous_generation = self._generation
        self._generations += 1
        self._generation = self._generations
        logger.info("SIGHUP: starting %d new workers, then stopping the old ones", self.count)
        self._spawn(range(self.count))
        self._reload_deadline = time.monotonic() + self.ready_timeout

    def _stop(self, reason: str) -> None:
        if self._stopping:
            return
        logger.info("%s: stopping %d workers gracefully", reason, len(self._workers))
        self._stopping = True
        self._force_at = time.monotonic() + self.stop_timeout
        for worker in self._workers.values():
            self._retire(worker)

    def _force(self) -> None:
        logger.warning("second SIGINT: killing %d workers", len(self._workers))
        self._stopping = True
        self._exit_code = EXIT_FORCED
        self._force_at = None
        for worker in self._workers.values():
            self._kill(worker.pid, signal.SIGKILL)

    # -- workers ---------------------------------------------------------------------

    def _spawn(self, slots: Iterable[int]) -> None:
        for slot in slots:
            pid = os.fork()
            if pid == 0:  # pragma: no cover - the worker; measured by the tests' requests
                self._become_worker(slot)
            self._workers[pid] = _Worker(pid, slot, self._generation)
            logger.info("worker %d started", pid)

    def _become_worker(self, slot: int) -> None:
        code = WORKER_BOOT_FAILED
        try:
            supervisor = os.getppid()
            for signo in (signal.SIGCHLD, signal.SIGTERM, signal.SIGINT):
                signal.signal(signo, signal.SIG_DFL)
            signal.signal(signal.SIGHUP, signal.SIG_IGN)  # a reload is the supervisor's
            die_with_parent(supervisor)
            for fd in (*self._wakeup, self._ready[0], self._alive[1]):
                os.close(fd)
            self._close_in_worker()
            code = self._work(slot, self._ready[1], self._alive[0])
        except BaseException:  # never return into the supervisor's loop
            logger.exception("worker %d failed", os.getpid())
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)

    def _retire(self, worker: _Worker) -> None:
        worker.retiring = True
        self._kill(worker.pid, signal.SIGTERM)

    @staticmethod
    def _kill(pid: int, signo: int) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signo)

    def _reap(self) -> None:
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            except InterruptedError:  # pragma: no cover - PEP 475 retries for us
                continue
            if pid == 0:
                return
            worker = self._workers.pop(pid, None)
            if worker is not None:
                self._exited(worker, status)

    def _exited(self, worker: _Worker, status: int) -> None:
        code = os.waitstatus_to_exitcode(status)
        cause = _describe(code)
        if worker.retiring or self._stopping:
            logger.info("worker %d stopped (%s)", worker.pid, cause)
            return
        if code == WORKER_BOOT_FAILED and not worker.ready:
            logger.error("worker %d could not start (%s); stopping", worker.pid, cause)
            self._exit_code = 1
            self._stop("a worker could not start")
            return
        if worker.generation != self._generation:
            logger.warning(
                "old worker %d died (%s) during a reload", worker.pid, cause, extra=_BOUNDED
            )
            return
        now = time.monotonic()
        if now - worker.started < self.boot_grace:
            self._restart_delay = min(
                max(self._restart_delay * 2, FIRST_RESTART_DELAY), self.max_restart_delay
            )
        else:
            self._restart_delay = 0.0
        self._restart_at = now + self._restart_delay
        logger.warning(
            "worker %d died (%s); starting another in %.1f s",
            worker.pid,
            cause,
            self._restart_delay,
            extra=_BOUNDED,
        )

    def _missing_slots(self) -> list[int]:
        """The slots no worker of the current generation fills."""
        filled = {
            worker.slot
            for worker in self._workers.values()
            if worker.generation == self._generation and not worker.retiring
        }
        return [slot for slot in range(self.count) if slot not in filled]

    def _replace_missing(self) -> None:
        if self._stopping or time.monotonic() < self._restart_at:
            return
        self._spawn(self._missing_slots())

    # -- readiness -------------------------------------------------------------------

    def _read_ready(self) -> None:
        try:
            while chunk := os.read(self._ready[0], 4096):
                self._ready_buffer += chunk
        except BlockingIOError:
            pass
        except OSError as error:  # pragma: no cover - the pipe is ours
            if error.errno != errno.EAGAIN:
                raise
        size = _PID.size
        while len(self._ready_buffer) >= size:
            (pid,) = _PID.unpack(self._ready_buffer[:size])
            self._ready_buffer = self._ready_buffer[size:]
            worker = self._workers.get(pid)
            if worker is not None:
                worker.ready = True
                logger.info("worker %d listening", pid)
        self._check_generation_ready()

    def _check_generation_ready(self) -> None:
        if self._reload_deadline is None or self._stopping:
            return
        current = [
            worker
            for worker in self._workers.values()
            if worker.generation == self._generation and not worker.retiring
        ]
        if len(current) < self.count or not all(worker.ready for worker in current):
            return
        self._reload_deadline = None
        for worker in self._workers.values():
            if worker.generation != self._generation and not worker.retiring:
                self._retire(worker)  # a reload: the new ones listen, the old ones drain
        if not self._announced:
            self._announced = True
            self._on_ready()

    def _check_deadlines(self) -> None:
        now = time.monotonic()
        if self._force_at is not None and now >= self._force_at:
            logger.warning(
                "%d workers still running after %.1f s: killing them",
                len(self._workers),
                self.stop_timeout,
            )
            self._force_at = None
            for worker in self._workers.values():
                self._kill(worker.pid, signal.SIGKILL)
        if self._reload_deadline is not None and now >= self._reload_deadline:
            self._reload_deadline = None
            if not self._announced:
                logger.error("workers did not listen within %.1f s; stopping", self.ready_timeout)
                self._exit_code = 1
                self._stop("start-up timed out")
                return
            logger.error(
                "reload abandoned: new workers did not listen within %.1f s; the old ones "
                "keep serving",
                self.ready_timeout,
            )
            for worker in self._workers.values():
                if worker.generation == self._generation:
                    self._retire(worker)
            self._generation = self._previous_generation
