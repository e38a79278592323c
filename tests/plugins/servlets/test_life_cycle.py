"""A servlet's life cycle on its pool thread and how its end reaches the loop: the
answer, its error before or after a flush, a file that cannot load, the 503 bound."""

from __future__ import annotations

import pathlib
from typing import Any

from relays import Component
from relays_http.testing import Client, memory_server
from relays_servlets import Servlets

FAILING = """\
from relays_servlets import Servlet


class Failing(Servlet):
    def respondToGet(self, transaction):
        transaction.response().write("never sent")
        raise LookupError("the servlet failed before flushing")
"""

FAILING_LATE = """\
from relays_servlets import Servlet


class FailingLate(Servlet):
    def respondToGet(self, transaction):
        transaction.response().write("first part")
        transaction.response().flush()
        raise LookupError("the servlet failed after flushing")
"""

HELLO = """\
from relays_servlets import Servlet


class Hello(Servlet):
    def respondToGet(self, transaction):
        transaction.response().setHeader("Content-Type", "text/plain")
        transaction.response().write("Hello from " + transaction.request().path())
"""


class Reports(Component):
    """The ``exception`` events the kernel fires for failed handlers."""

    channel = "*"

    def __init__(self) -> None:
        super().__init__()
        self.errors: list[BaseException] = []

    def exception(self, error_type: Any, value: BaseException, *_: Any, **__: Any) -> None:
        self.errors.append(value)


def site(tmp_path: pathlib.Path, **files: str) -> pathlib.Path:
    for name, text in files.items():
        (tmp_path / f"{name}.py").write_text(text)
    return tmp_path


async def test_a_servlet_answers_and_its_instance_serves_again(tmp_path: pathlib.Path) -> None:
    server, transport = memory_server(Servlets({"/": site(tmp_path, Hello=HELLO)}, threads=1))
    async with server:
        client = Client(transport)
        for _ in range(3):
            answer = await client.get("/Hello")
            assert answer.status == 200
            assert answer.body == b"Hello from /Hello"
            assert answer.headers["content-type"] == "text/plain"


async def test_an_error_before_a_flush_is_a_500_reported_and_frees_its_place(
    tmp_path: pathlib.Path,
) -> None:
    reports = Reports()
    # One thread and no queue: a place not given back would make the next request a 503.
    servlets = Servlets({"/": site(tmp_path, Failing=FAILING)}, threads=1, queue_limit=0)
    server, transport = memory_server(servlets, reports)
    async with server:
        client = Client(transport)
        for _ in range(3):
            answer = await client.get("/Failing")
            assert answer.status == 500
            assert b"never sent" not in answer.body
        assert [type(error) for error in reports.errors] == [LookupError] * 3


async def test_an_error_after_a_flush_cuts_the_stream_and_frees_its_place(
    tmp_path: pathlib.Path,
) -> None:
    files = site(tmp_path, FailingLate=FAILING_LATE, Hello=HELLO)
    servlets = Servlets({"/": files}, threads=1, queue_limit=0)
    server, transport = memory_server(servlets)
    async with server:
        client = Client(transport)
        client.send_request("GET", "/FailingLate")
        received = await client.connection.wait(lambda data: False, timeout=10)
        # The head and the flushed part went out; the body never ends properly.
        assert received.startswith(b"HTTP/1.1 200")
        assert b"first part" in received
        assert not received.endswith(b"0\r\n\r\n")
        assert client.closed
        answer = await Client(transport).get("/Hello")  # its place was given back
        assert answer.status == 200


async def test_a_servlet_file_that_cannot_load_is_a_500(tmp_path: pathlib.Path) -> None:
    reports = Reports()
    files = site(tmp_path, Broken="this is not python (\n")
    server, transport = memory_server(Servlets({"/": files}, queue_limit=0, threads=1), reports)
    async with server:
        client = Client(transport)
        assert (await client.get("/Broken")).status == 500
        assert (await client.get("/Broken")).status == 500
        assert [type(error) for error in reports.errors] == [SyntaxError] * 2


WAITS = """\
import waits_gate  # the test's: two threading.Events

from relays_servlets import Servlet


class Waits(Servlet):
    def respondToGet(self, transaction):
        waits_gate.running.set()
        waits_gate.go_on.wait(30)
        transaction.response().write("went on")
"""


async def test_no_task_waits_on_the_loop_while_a_servlet_runs(
    tmp_path: pathlib.Path, monkeypatch: Any
) -> None:
    """The request handler hands the life cycle to the pool and returns its value: no
    task (no coroutine) stands for the request meanwhile."""
    import asyncio
    import sys
    import threading
    import types

    gate = types.ModuleType("waits_gate")
    gate.running = threading.Event()  # type: ignore[attr-defined]
    gate.go_on = threading.Event()  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "waits_gate", gate)
    servlets = Servlets({"/": site(tmp_path, Waits=WAITS)}, threads=1)
    server, transport = memory_server(servlets)
    async with server:
        client = Client(transport)
        client.send_request("GET", "/Waits")
        loop = asyncio.get_running_loop()
        assert await loop.run_in_executor(None, gate.running.wait, 30)  # type: ignore[attr-defined]
        names = [task.get_name() for task in asyncio.all_tasks()]
        assert not [name for name in names if "Servlets" in name], names
        gate.go_on.set()  # type: ignore[attr-defined]
        answer = await client.response()
        assert (answer.status, answer.body) == (200, b"went on")
