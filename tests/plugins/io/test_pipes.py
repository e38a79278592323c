"""Pipe(): what one end writes, the other reads; a protocol works on it as on a client."""

from __future__ import annotations

from pathlib import Path

from relays.testing import Manager, Recorder
from relays_io import Close, File, Line, Pipe, Write


async def test_each_end_reads_what_the_other_wrote(manager: Manager) -> None:
    recorder = Recorder().register(manager)
    left, right = Pipe("left", "right")
    manager += left
    manager += right
    manager.fire(Write(b"ping"), "left")
    [read] = await recorder.until("read")
    assert read.args == (b"ping",)
    assert read.channels == ("right",)
    manager.fire(Write(b"pong"), "right")
    reads = await recorder.until("read", 2)
    assert reads[1].args == (b"pong",)
    assert reads[1].channels == ("left",)


async def test_lines_over_a_pipe_and_disconnected_on_close(manager: Manager) -> None:
    recorder = Recorder().register(manager)
    left, right = Pipe()
    manager += left
    manager += right
    manager += Line(channel="b")
    manager.fire(Write(b"one\ntw"), "a")
    manager.fire(Write(b"o\n"), "a")
    lines = await recorder.until("line", 2)
    assert [event.args for event in lines] == [(b"one",), (b"two",)]
    manager.fire(Close(), "a")
    disconnected = await recorder.until("disconnected", 2)
    assert sorted(event.channels for event in disconnected) == [("a",), ("b",)]


async def test_line_cuts_the_text_a_file_reads(manager: Manager, tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("één\ntwee\n", encoding="utf-8")
    recorder = Recorder().register(manager)
    manager += Line(channel="notes", encoding="utf-8")
    manager += File(path, channel="notes")
    lines = await recorder.until("line", 2)
    assert [event.args for event in lines] == [("één",), ("twee",)]
