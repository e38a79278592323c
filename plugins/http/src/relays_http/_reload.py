"""``relays serve --reload``: restart the server when its Python files change.

Theory of operation: the process the user started becomes a watcher and never
imports the app. It starts the real ``relays serve`` (the same arguments without
``--reload``) as a child process, marked by the :data:`CHILD_MARKER` environment
variable so that the child serves instead of reloading again (a config file may say
``reload = true`` too). It then watches the ``.py`` files under the current directory
and the app module's folder with watchfiles; on a change it stops the child
gracefully (SIGTERM, then SIGKILL after :data:`CHILD_STOP_TIMEOUT` seconds), prints
which file changed and starts a new child.

A TCP address is bound once, here, and handed to each child as ``fd://N``: the port
stays the same across restarts even when ``:0`` was asked, and a browser connecting
while the new child imports waits in the listen queue instead of being refused.

For development only: a child that fails to import waits for the next change, and
``--workers`` above 1 is refused (the supervisor has its own reload, on SIGHUP).
"""

from __future__ import annotations

import importlib.util
import os
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Iterable, Sequence
from pathlib import Path
from types import FrameType

from relays.transports import parse_address

__all__ = ["CHILD_MARKER", "CHILD_STOP_TIMEOUT", "ReloadUnavailable", "run_reloader"]

#: Set in a reloaded child's environment: that process serves and does not reload.
CHILD_MARKER = "RELAYS_RELOAD_CHILD"
#: Seconds a child gets to stop after SIGTERM before it is killed.
CHILD_STOP_TIMEOUT = 5.0
#: Milliseconds watchfiles waits for more changes before reporting a batch.
DEBOUNCE_MS = 200
#: Milliseconds between the watcher's idle wake-ups (it reports an empty batch each time).
WATCH_TICK_MS = 500


class ReloadUnavailable(ValueError):
    """``--reload`` cannot run: watchfiles is missing, or the options do not allow it."""


def is_reload_child() -> bool:
    """Whether this process is a child started by the reloader."""
    return os.environ.get(CHILD_MARKER) == "1"


def check_reload(workers: int) -> None:
    """Raise :class:`ReloadUnavailable` when ``--reload`` cannot run, saying what to do."""
    if workers > 1:
        raise ReloadUnavailable(
            "--reload runs one server process for development; drop --workers (or send "
            "SIGHUP to a --workers server to reload it)"
        )
    if importlib.util.find_spec("watchfiles") is None:
        raise ReloadUnavailable("--reload needs watchfiles: pip install 'relays-http[reload]'")


def watched_folders(target: str | None, cwd: Path) -> list[Path]:
    """The current directory and the folder of the app's module (when found), once each."""
    folders = [cwd.resolve()]
    module_folder = _module_folder(target, cwd) if target else None
    if module_folder is not None and not any(
        module_folder.is_relative_to(folder) for folder in folders
    ):
        folders.append(module_folder)
    return folders


def _module_folder(target: str, cwd: Path) -> Path | None:
    """Where ``module:factory`` or ``path/to/file.py:factory`` lives, without importing it."""
    module = target.rpartition(":")[0] or target
    if module.endswith(".py"):
        return (cwd / module).resolve().parent
    sys.path.insert(0, str(cwd))
    try:
        spec = importlib.util.find_spec(module)
    except (ImportError, ValueError):
        return None
    finally:
        sys.path.remove(str(cwd))
    if spec is None or spec.origin is None or not spec.has_location:
        return None
    return Path(spec.origin).resolve().parent


def child_arguments(arguments: Sequence[str], bind: str | None) -> list[str]:
    """*arguments* without ``--reload``, with ``--bind`` replaced by *bind* when given."""
    kept: list[str] = []
    skip_next = False
    for argument in arguments:
        if skip_next:
            skip_next = False
        elif argument == "--reload":
            pass
        elif bind is not None and argument == "--bind":
            skip_next = True
        elif bind is not None and argument.startswith("--bind="):
            pass
        else:
            kept.append(argument)
    if bind is not None:
        kept += ["--bind", bind]
    return kept


def _bind_once(bind: str) -> socket.socket | None:
    """A listening socket for a plain TCP *bind*, to hand to every child; None otherwise."""
    scheme, address = parse_address(bind)
    if scheme not in ("tcp", "tcp4", "tcp6"):
        return None
    host, port = address
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    listening = socket.socket(family, socket.SOCK_STREAM)
    try:
        listening.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listening.bind((host, port))
        listening.listen(socket.SOMAXCONN)
    except OSError:
        listening.close()
        raise
    return listening


class _Child:
    """The one ``relays serve`` process the reloader runs at a time (it owns the Popen)."""

    def __init__(self, command: list[str], pass_fds: Iterable[int]) -> None:
        self._command = command
        self._pass_fds = tuple(pass_fds)
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def started(self) -> bool:
        """Whether a child was started and not stopped since (it may have exited)."""
        return self._process is not None

    def start(self) -> None:
        environment = {**os.environ, CHILD_MARKER: "1"}
        self._process = subprocess.Popen(self._command, env=environment, pass_fds=self._pass_fds)

    def stop(self) -> None:
        """SIGTERM, then SIGKILL when it has not stopped within :data:`CHILD_STOP_TIMEOUT`."""
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(CHILD_STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def run_reloader(arguments: Sequence[str], bind: str, target: str | None) -> int:
    """Run ``relays`` *arguments* (without ``--reload``) in a child, restarting it whenever a
    watched ``.py`` file changes, until SIGINT or SIGTERM. *bind* is the address to serve."""
    import watchfiles

    stopping = threading.Event()

    def stop_on_signal(signum: int, frame: FrameType | None) -> None:
        stopping.set()

    previous = signal.signal(signal.SIGTERM, stop_on_signal)
    listening = _bind_once(bind)
    child_bind = f"fd://{listening.fileno()}" if listening is not None else None
    command = [sys.executable, "-m", "relays._cli", *child_arguments(arguments, child_bind)]
    child = _Child(command, [listening.fileno()] if listening is not None else [])
    folders = watched_folders(target, Path.cwd())
    try:
        changes = watchfiles.watch(
            *folders,
            watch_filter=watchfiles.PythonFilter(),
            debounce=DEBOUNCE_MS,
            stop_event=stopping,
            raise_interrupt=False,
            rust_timeout=WATCH_TICK_MS,
            yield_on_timeout=True,
        )
        for batch in changes:
            # The first (empty) batch comes once the watcher is set up: a change made after
            # the first child serves is never missed.
            if not child.started:
                child.start()
            if not batch:
                continue
            changed = sorted({path for _, path in batch})
            child.stop()
            more = f" (and {len(changed) - 1} more)" if len(changed) > 1 else ""
            print(f"relays: {os.path.relpath(changed[0])} changed{more}; restarting", flush=True)
            child.start()
        return 0
    finally:
        child.stop()
        if listening is not None:
            listening.close()
        signal.signal(signal.SIGTERM, previous)
