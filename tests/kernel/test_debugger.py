"""The Debugger reports events and errors without changing results."""

from __future__ import annotations

import io
import logging
from pathlib import Path

import pytest

from relays import Component, Debugger, Event
from relays.testing import Manager, drain


class Dog(Component):
    channel = "bob"

    def bark(self) -> str:
        return "woof"

    def growl(self) -> None:
        raise NameError("name 'name' is not defined")


async def test_prints_events_and_keeps_results(manager: Manager) -> None:
    stream = io.StringIO()
    manager += Dog()
    manager += Debugger(file=stream)
    assert await manager.fire(Event.create("bark"), "bob") == "woof"
    assert "<Bark[bob:bark] () {}>" in stream.getvalue()


async def test_reports_errors_with_traceback(manager: Manager) -> None:
    stream = io.StringIO()
    manager += Dog()
    manager += Debugger(file=stream)
    manager.fire(Event.create("growl"), "bob")
    await drain(manager)
    text = stream.getvalue()
    assert "ERROR <handler Dog.growl" in text
    assert "(NameError): name 'name' is not defined" in text
    assert "Traceback" in text


async def test_ignore_lists(manager: Manager) -> None:
    stream = io.StringIO()
    manager += Dog()
    manager += Debugger(file=stream, ignore_events=["bark"], ignore_channels=["quiet"])
    await manager.fire(Event.create("bark"), "bob")
    await manager.fire(Event.create("other"), "quiet")
    await manager.fire(Event.create("shown"), "loud")
    text = stream.getvalue()
    assert "bark" not in text
    assert "other" not in text
    assert "shown" in text


async def test_to_a_logger(manager: Manager, caplog: pytest.LogCaptureFixture) -> None:
    manager += Debugger(logger=logging.getLogger("app.debug"))
    with caplog.at_level(logging.DEBUG, logger="app.debug"):
        await manager.fire(Event.create("hello"))
    assert any("hello" in r.getMessage() for r in caplog.records)


async def test_to_a_file_path(tmp_path: Path) -> None:
    path = tmp_path / "events.log"
    debugger = Debugger(file=path)
    app = Manager() + debugger
    async with app:
        await app.fire(Event.create("logged"))
    debugger.close()
    assert "logged" in path.read_text()


async def test_prefix_starts_every_line_and_may_be_a_function(manager: Manager) -> None:
    stream = io.StringIO()
    manager += Dog()
    manager += Debugger(file=stream, prefix=lambda: "worker-1")
    await manager.fire(Event.create("bark"), "bob")
    lines = stream.getvalue().splitlines()
    assert lines
    assert all(line.startswith("worker-1: <") for line in lines)


async def test_trim_cuts_long_events(manager: Manager) -> None:
    stream = io.StringIO()
    manager += Dog()
    manager += Debugger(file=stream, trim=12, prefix="dbg")
    await manager.fire(Event.create("howl", "x" * 100), "bob")
    assert "dbg: <Howl[bob:ho..." in stream.getvalue().splitlines()
    with pytest.raises(ValueError, match="trim must be 1 or more"):
        Debugger(trim=0)
