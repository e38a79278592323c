"""Run an example program for a test: start it, wait until it listens, stop it by its PID.

Theory of operation
-------------------
An example under ``examples/`` is a whole program that serves until SIGTERM, on the
addresses given on its command line. A test runs it as a user would: :func:`start_example`
picks free loopback ports, puts them in the program's arguments (``{0}``, ``{1}``...), starts
it with the interpreter running the tests, and returns once every one of those ports accepts a
connection. Examples print nothing when they are ready, so accepting a connection is the
event waited for: the wait ends as soon as it happens, or at once when the program dies,
and fails after a bounded time. :meth:`RunningExample.stop` sends SIGTERM to the process's id
and checks that the program ended as a program should: status 0, no traceback. The
``run_example`` fixture of the pytest plugin starts examples this way and stops by force, at
the end of the test, any that the test did not stop itself.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["ExampleFailed", "RunExample", "RunningExample", "free_port", "start_example"]

#: Seconds an example gets to start listening, and to stop, unless told otherwise.
DEFAULT_EXAMPLE_TIMEOUT = 15.0
#: Seconds between two attempts to connect while an example starts (ends early if it dies).
_RETRY_PAUSE = 0.05


class ExampleFailed(AssertionError):
    """An example died before it listened, did not listen in time, or did not stop cleanly.

    The message holds what it wrote on stderr, which usually says why.
    """


def free_port() -> int:
    """A TCP port of 127.0.0.1 that nothing listens on (free when asked: use it at once)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class RunningExample:
    """An example program started by :func:`start_example`, listening on :attr:`ports`."""

    process: subprocess.Popen[bytes]
    ports: tuple[int, ...]
    timeout: float = DEFAULT_EXAMPLE_TIMEOUT
    #: What the program wrote, once :meth:`stop` has run.
    stdout: bytes = field(default=b"", init=False)
    stderr: bytes = field(default=b"", init=False)

    @property
    def port(self) -> int:
        """The first port: the one of ``{0}`` in the arguments."""
        return self.ports[0]

    @property
    def url(self) -> str:
        """``http://127.0.0.1:<port>/``, for an example that serves HTTP on :attr:`port`."""
        return f"http://127.0.0.1:{self.port}/"

    def stop(self, *, tracebacks: bool = False) -> bytes:
        """Stop the program with SIGTERM and return its stderr.

        Raises :class:`ExampleFailed` when it does not end within the timeout (it is then
        killed), ends with a status other than 0, or printed a traceback (pass
        ``tracebacks=True`` for a program that logs them on purpose).
        """
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            self.stdout, self.stderr = self.process.communicate(timeout=self.timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise ExampleFailed(f"the example did not stop on SIGTERM: {self.stderr!r}") from None
        if self.process.returncode != 0 or (not tracebacks and b"Traceback" in self.stderr):
            status = self.process.returncode
            raise ExampleFailed(f"the example ended with status {status}: {self.stderr!r}")
        return self.stderr

    def kill(self) -> None:
        """End the program at once, if it still runs, and collect what it wrote."""
        if self.process.poll() is None:
            self.process.kill()
        self.stdout, self.stderr = self.process.communicate(timeout=self.timeout)


#: The ``run_example`` fixture's type: :func:`start_example`'s signature.
RunExample = Callable[..., RunningExample]


def _wait_listening(example: RunningExample, port: int) -> None:
    for _ in range(int(example.timeout / _RETRY_PAUSE)):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=example.timeout).close()
            return
        except OSError:
            try:
                example.process.wait(_RETRY_PAUSE)  # a pause that ends if the program dies
            except subprocess.TimeoutExpired:
                continue
            example.kill()
            raise ExampleFailed(
                f"the example exited with status {example.process.returncode} before it "
                f"listened on port {port}: {example.stderr!r}"
            ) from None
    example.kill()
    raise ExampleFailed(f"nothing listened on port {port} within {example.timeout} s")


def start_example(
    program: str | os.PathLike[str],
    *arguments: str,
    ports: int = 1,
    cwd: str | os.PathLike[str] | None = None,
    env: dict[str, str] | None = None,
    timeout: float = DEFAULT_EXAMPLE_TIMEOUT,
) -> RunningExample:
    """Start the Python *program* with *arguments*, and return once it listens.

    *ports* free ports are picked and written into the arguments where they say ``{0}``,
    ``{1}``... (``"tcp://127.0.0.1:{0}"``); each must accept a connection before this
    returns. *env* is added to the environment (output is unbuffered). Stop the program with
    :meth:`RunningExample.stop`, which checks that it ended cleanly.
    """
    chosen = tuple(free_port() for _ in range(ports))
    process = subprocess.Popen(
        [sys.executable, str(Path(program)), *(a.format(*chosen) for a in arguments)],
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, **(env or {}), "PYTHONUNBUFFERED": "1"},
    )
    example = RunningExample(process, chosen, timeout)
    try:
        for port in chosen:
            _wait_listening(example, port)
    except BaseException:
        if process.poll() is None:
            example.kill()
        raise
    return example
