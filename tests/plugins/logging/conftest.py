"""Fixtures of the relays-logging tests: a served app on loopback, captured log lines."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from relays import BaseComponent, Component
from relays_http import Request, Response, Server


class Captured(logging.Handler):
    """Keeps every record emitted to the loggers it is attached to."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []
        self.changed = threading.Condition()

    def emit(self, record: logging.LogRecord) -> None:
        with self.changed:
            self.records.append(record)
            self.changed.notify_all()

    @property
    def lines(self) -> list[str]:
        return [record.getMessage() for record in self.records]

    def wait_for(self, count: int, timeout: float = 5.0) -> list[str]:
        """The first *count* messages, once there are that many."""
        with self.changed:
            if not self.changed.wait_for(lambda: len(self.records) >= count, timeout):
                raise AssertionError(f"{len(self.records)} log lines, expected {count}")
        return self.lines[:count]


@pytest.fixture
def capture() -> Callable[[str], Captured]:
    """``capture("relays.access")``: a handler collecting that logger's records."""
    attached: list[tuple[logging.Logger, Captured, int, bool]] = []

    def attach(name: str) -> Captured:
        logger = logging.getLogger(name)
        handler = Captured()
        attached.append((logger, handler, logger.level, logger.propagate))
        logger.addHandler(handler)
        logger.setLevel(logging.DEBUG)
        logger.propagate = False
        return handler

    yield attach  # type: ignore[misc]
    for logger, handler, level, propagate in attached:
        logger.removeHandler(handler)
        logger.setLevel(level)
        logger.propagate = propagate


class App(Component):
    """Answers a few paths the way real apps do."""

    channel = "web"

    async def request(self, request: Request, response: Response) -> Any:
        path = request.path
        if path == "/text":
            return "hello"
        if path == "/bytes":
            return b"\x00\x01\x02"
        if path == "/json":
            return {"name": "Zoë", "n": 1}
        if path == "/response":
            return Response(b"made", status=201)
        if path == "/stream":
            return (f"{index}\n" for index in range(3))
        if path == "/fail":
            raise RuntimeError("boom")
        if path.startswith("/any"):
            return "any"
        return None


@pytest.fixture
def serve() -> Iterator[Callable[..., Server]]:
    """``serve(*components)``: a Server on a loopback port with App and *components*,
    running in a background thread until the test ends."""
    started: list[Server] = []

    def start(*components: BaseComponent) -> Server:
        server = Server("tcp://127.0.0.1:0") + App()
        for component in components:
            server += component
        server.start()
        server.wait_listening()
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()
