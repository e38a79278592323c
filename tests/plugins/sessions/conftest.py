"""Fixtures of the relays-sessions tests: a real redis-server, and one store of each kind.

The Redis fixture starts its own ``redis-server`` on a free loopback port (no
persistence) once per test session and stops it at the end. Where the program is
missing the Redis tests are skipped with a message saying how to install it;
``.ci/run`` installs it, so CI always runs them.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from relays_sessions import MemoryStore, SessionStore
from relays_sessions._sqlite import SQLiteStore

REDIS_MISSING = (
    "redis-server is not installed: apt-get install redis-server (.ci/run installs it), "
    "so the Redis session store is not tested here"
)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _ping(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as connection:
            connection.sendall(b"PING\r\n")
            return connection.recv(16).startswith(b"+PONG")
    except OSError:
        return False


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``redis://127.0.0.1:<port>/0`` of a redis-server running for this test session."""
    program = shutil.which("redis-server")
    if program is None:
        pytest.skip(REDIS_MISSING)
    pytest.importorskip("redis", reason="the redis client is in the dev group: python3 dev.py")
    port = _free_port()
    directory = tmp_path_factory.mktemp("redis")
    process = subprocess.Popen(
        [
            program,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(directory),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 10
        while not _ping(port):
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"redis-server did not start on port {port}")
            time.sleep(0.02)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)


@pytest.fixture(params=["memory", "sqlite", "redis"])
def store_kind(request: pytest.FixtureRequest) -> str:
    kind: str = request.param
    return kind


@pytest.fixture
def new_store(
    store_kind: str, tmp_path: Path, request: pytest.FixtureRequest
) -> Callable[[], SessionStore]:
    """Makes stores of the kind under test; the stores one test makes share their data."""
    if store_kind == "memory":
        shared = MemoryStore()
        return lambda: shared
    if store_kind == "sqlite":
        return lambda: SQLiteStore(tmp_path / "sessions.db")
    from relays_sessions._redis import RedisStore

    url: str = request.getfixturevalue("redis_url")
    # A prefix of its own per test: tests share one server, never each other's keys.
    prefix = f"test:{uuid.uuid4().hex}:"
    return lambda: RedisStore(url, key_prefix=prefix)
