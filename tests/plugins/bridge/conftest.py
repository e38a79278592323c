"""Fixtures of the relays-bridge tests: real redis-server and nats-server processes.

Each server runs on a free loopback port of its own, without persistence, and is
stopped by the fixture that started it. The fault tests get a server of their own
(``fresh_broker``) that they stop or kill and restart on the same port. Where a program is
missing its tests are skipped, saying how to install it; ``.ci/run`` installs both.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

import pytest

MISSING = {
    "redis": "redis-server is not installed: apt-get install redis-server (.ci/run installs "
    "it), so the Redis bridge is not tested here",
    "nats": "nats-server is not installed: apt-get install nats-server (.ci/run installs it), "
    "so the NATS bridge is not tested here",
}
CLIENTS = {"redis": "redis", "nats": "nats"}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


class Broker:
    """One broker process on a fixed port, which a test may kill and start again."""

    def __init__(self, kind: str, directory: Path) -> None:
        program = shutil.which("redis-server" if kind == "redis" else "nats-server")
        if program is None:
            pytest.skip(MISSING[kind])
        pytest.importorskip(CLIENTS[kind], reason="the client is in the dev group: dev.py")
        self.kind = kind
        self.program = program
        self.directory = directory
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        if self.kind == "redis":
            return f"redis://127.0.0.1:{self.port}/0"
        return f"nats://127.0.0.1:{self.port}"

    def command(self) -> list[str]:
        if self.kind == "redis":
            return [
                self.program, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                "--appendonly", "no", "--dir", str(self.directory),
            ]  # fmt: skip
        return [
            self.program, "-a", "127.0.0.1", "-p", str(self.port), "-js",
            "-sd", str(self.directory),
        ]  # fmt: skip

    def start(self) -> None:
        self.process = subprocess.Popen(
            self.command(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        deadline = time.monotonic() + 10
        while not _answers(self.port):
            if self.process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"{self.program} did not start on port {self.port}")
            time.sleep(0.02)

    def kill(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait(10)
            self.process = None

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
            self.process = None


def _running_broker(kind: str, directory: Path) -> Iterator[Broker]:
    broker = Broker(kind, directory)
    broker.start()
    try:
        yield broker
    finally:
        broker.stop()


@pytest.fixture(scope="session")
def redis_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Broker]:
    yield from _running_broker("redis", tmp_path_factory.mktemp("redis"))


@pytest.fixture(scope="session")
def nats_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Broker]:
    yield from _running_broker("nats", tmp_path_factory.mktemp("nats"))


@pytest.fixture(params=["redis", "nats"])
def broker(request: pytest.FixtureRequest) -> Broker:
    """Each test runs once against Redis and once against NATS, on shared servers."""
    found: Broker = request.getfixturevalue(f"{request.param}_broker")
    return found


@pytest.fixture(params=["redis", "nats"])
def fresh_broker(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Broker]:
    """A server of the test's own, to kill and restart."""
    yield from _running_broker(request.param, tmp_path)


@pytest.fixture
def fresh_nats(tmp_path: Path) -> Iterator[Broker]:
    """A nats-server of the test's own, whose files the test may change while it is down."""
    yield from _running_broker("nats", tmp_path / "nats")


@pytest.fixture
def namespace(request: pytest.FixtureRequest) -> str:
    """A namespace per test, so tests sharing a server never see each other's events."""
    return "t" + uuid.uuid4().hex[:12]


NewBroker = Callable[[], Broker]


ExitOf = Callable[[int], Awaitable["asyncio.Future[None]"]]


async def _exit_of(pid: int) -> asyncio.Future[None]:
    """A future done when process *pid* (not ours to wait for) has exited: a pidfd
    becomes readable then."""
    loop = asyncio.get_running_loop()
    descriptor = os.pidfd_open(pid)
    done: asyncio.Future[None] = loop.create_future()

    def readable() -> None:
        loop.remove_reader(descriptor)
        os.close(descriptor)
        if not done.done():
            done.set_result(None)

    loop.add_reader(descriptor, readable)
    return done


@pytest.fixture
def exit_of() -> ExitOf:
    """``await exit_of(pid)``: a future done once that process (a child's child, say)
    has exited; skipped where there is no ``os.pidfd_open``."""
    if not hasattr(os, "pidfd_open"):
        pytest.skip("needs os.pidfd_open (Linux)")
    return _exit_of
