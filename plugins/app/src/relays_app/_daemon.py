"""Running in the background: the double fork, the pidfile, and its stale-file check.

Theory of operation: :func:`daemonize` first checks the pidfile *in the foreground*,
so "already running" reaches the terminal that started us. A pidfile whose process
still exists means another instance runs (:class:`AlreadyRunning`); one whose process
is gone was left by a crash and is replaced. Then the classic sequence: fork (the
parent exits, so the shell gets its prompt back and the child is no process-group
leader), ``setsid`` (a new session, no controlling terminal), fork again (the session
leader exits, so the daemon can never acquire a terminal), ``chdir``, ``umask``,
standard streams onto ``/dev/null`` (or the files given), and the pidfile written with
``O_EXCL`` so two starting daemons cannot both win. The pidfile is removed when the
daemon exits normally.

:class:`Daemon` does this when it joins a tree that is not running yet, the last
moment before an event loop exists: a running loop cannot be forked (asyncio finds
no running loop in the child and resets its signal wake-up; libuv does not support
it at all). ``relays serve --daemon`` calls :func:`daemonize` before loading the app.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import sys
from pathlib import Path
from typing import Any, Self

from relays import BaseComponent, Event

__all__ = ["AlreadyRunning", "Daemon", "DaemonError", "Daemonized", "daemonize", "read_pidfile"]

#: The umask a daemon runs with unless told otherwise: files it creates are not world-writable.
DEFAULT_UMASK = 0o022


class DaemonError(RuntimeError):
    """Daemonizing failed; the message names the file or step and what to do."""


class AlreadyRunning(DaemonError):
    """The pidfile names a process that is still alive: another instance runs."""

    def __init__(self, pidfile: Path, pid: int) -> None:
        super().__init__(
            f"{pidfile} says process {pid} runs this daemon, and it is alive:"
            f" stop it first (kill {pid}) or choose another pidfile"
        )
        self.pidfile = pidfile
        self.pid = pid


class Daemonized(Event):
    """``daemonized(pid)``: this process now runs in the background as *pid*."""


def read_pidfile(pidfile: str | os.PathLike[str]) -> int | None:
    """The live process id recorded in *pidfile*; ``None`` if none is recorded or alive.

    A pidfile of a process that is gone (a crash left it) counts as none. A process
    that exists but belongs to another user is alive.
    """
    try:
        text = Path(pidfile).read_text(encoding="ascii").strip()
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as error:
        raise DaemonError(f"cannot read pidfile {os.fspath(pidfile)}: {error}") from None
    try:
        pid = int(text)
    except ValueError:
        return None  # a torn or foreign file: nothing we can signal
    if pid <= 0:
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        return pid  # alive, but not ours to signal
    return pid


def _check_pidfile(pidfile: Path) -> None:
    pid = read_pidfile(pidfile)
    if pid is not None and pid != os.getpid():
        raise AlreadyRunning(pidfile, pid)
    with contextlib.suppress(FileNotFoundError):
        pidfile.unlink()  # stale: its process is gone


def _write_pidfile(pidfile: Path) -> None:
    try:
        descriptor = os.open(pidfile, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    except FileExistsError:
        pid = read_pidfile(pidfile)
        raise AlreadyRunning(pidfile, pid or 0) from None
    with os.fdopen(descriptor, "w", encoding="ascii") as file:
        file.write(f"{os.getpid()}\n")
    mine = os.getpid()

    def remove() -> None:
        if os.getpid() == mine:
            with contextlib.suppress(OSError):
                if read_pidfile(pidfile) in (mine, None):
                    pidfile.unlink()

    atexit.register(remove)


def daemonize(
    *,
    pidfile: str | os.PathLike[str] | None = None,
    umask: int = DEFAULT_UMASK,
    chdir: str | os.PathLike[str] = "/",
    stdin: str | os.PathLike[str] = os.devnull,
    stdout: str | os.PathLike[str] = os.devnull,
    stderr: str | os.PathLike[str] = os.devnull,
) -> int:
    """Detach this process into the background; returns in the daemon, with its pid.

    Raises :class:`AlreadyRunning` (before forking) when *pidfile* names a live
    process, and :class:`DaemonError` when *chdir* or an output file cannot be used.
    Paths are resolved before ``chdir``, so relative ones mean what they meant here.
    """
    pidpath = Path(pidfile).absolute() if pidfile is not None else None
    directory = Path(chdir).absolute()
    streams = [Path(stdin).absolute(), Path(stdout).absolute(), Path(stderr).absolute()]
    if not directory.is_dir():
        raise DaemonError(f"cannot chdir to {directory}: it is not a directory")
    if pidpath is not None:
        if not pidpath.parent.is_dir():
            raise DaemonError(f"the pidfile's directory {pidpath.parent} does not exist")
        _check_pidfile(pidpath)
    try:
        opened = [
            os.open(streams[0], os.O_RDONLY),
            os.open(streams[1], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o640),
            os.open(streams[2], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o640),
        ]
    except OSError as error:
        raise DaemonError(
            f"cannot open {error.filename} for the daemon: {error.strerror}"
        ) from None
    sys.stdout.flush()
    sys.stderr.flush()
    if os.fork() > 0:
        os._exit(0)  # the first parent: the shell gets its prompt back
    os.setsid()
    if os.fork() > 0:
        os._exit(0)  # the session leader: the daemon can never get a terminal again
    os.chdir(directory)
    os.umask(umask)
    for target, descriptor in enumerate(opened):
        os.dup2(descriptor, target)
        os.close(descriptor)
    if pidpath is not None:
        _write_pidfile(pidpath)
    return os.getpid()


class Daemon(BaseComponent):
    """Daemonizes the process when it is registered into a tree that is not running yet.

    ``(App() + Daemon(pidfile=...)).run()`` returns to the shell at once and runs the
    tree in the background; ``daemonized(pid)`` is its first event there. The fork
    happens while the tree is being built, before any event loop, socket or thread
    exists (a running asyncio loop cannot be forked: the child would find no running
    loop and no signal wake-up). A live pidfile raises :class:`AlreadyRunning` right
    there, in the foreground. Registering into a running tree raises
    :class:`DaemonError`: it is too late to fork safely.
    """

    channel = "daemon"

    def __init__(
        self,
        *,
        pidfile: str | os.PathLike[str] | None = None,
        umask: int = DEFAULT_UMASK,
        chdir: str | os.PathLike[str] = "/",
        stdin: str | os.PathLike[str] = os.devnull,
        stdout: str | os.PathLike[str] = os.devnull,
        stderr: str | os.PathLike[str] = os.devnull,
        channel: Any = "daemon",
    ) -> None:
        super().__init__(channel=channel)
        self.options: dict[str, Any] = {
            "pidfile": pidfile,
            "umask": umask,
            "chdir": chdir,
            "stdin": stdin,
            "stdout": stdout,
            "stderr": stderr,
        }
        self.pid: int | None = None

    def register(self, parent: BaseComponent) -> Self:
        """Join *parent*'s tree, then daemonize (once); see the class docstring."""
        if parent.running and self.pid is None:
            raise DaemonError(
                "Daemon must be registered before the tree runs (forking a running event"
                " loop is not safe): build the tree with it, then run()"
            )
        super().register(parent)
        if self.pid is None:
            self.pid = daemonize(**self.options)
            self.fire(Daemonized(self.pid))
        return self
