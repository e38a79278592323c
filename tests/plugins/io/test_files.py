"""File reads and writes through a thread of its own; bad paths are error events."""

from __future__ import annotations

import os
from pathlib import Path

from relays.testing import Manager, Recorder
from relays_io import Close, File, Resume, Seek, StdIn, StdOut, Write


async def test_a_file_is_read_in_chunks_then_eof_and_closed(
    manager: Manager, tmp_path: Path
) -> None:
    path = tmp_path / "data.bin"
    path.write_bytes(b"x" * 10 + b"y" * 5)
    recorder = Recorder().register(manager)
    File(path, "rb", bufsize=4).register(manager)
    await recorder.until("closed")
    assert b"".join(event.args[0] for event in recorder.named("read")) == path.read_bytes()
    names = [event.name for event in recorder.events if event.channels == ("file",)]
    assert names[0] == "opened"
    assert names[-2:] == ["eof", "closed"]


async def test_text_mode_decodes_across_chunks(manager: Manager, tmp_path: Path) -> None:
    path = tmp_path / "text.txt"
    path.write_text("héllo wörld", encoding="utf-8")
    recorder = Recorder().register(manager)
    File(path, bufsize=1).register(manager)
    await recorder.until("closed")
    assert "".join(event.args[0] for event in recorder.named("read")) == "héllo wörld"


async def test_writes_happen_in_order(manager: Manager, tmp_path: Path) -> None:
    path = tmp_path / "out.txt"
    file = File(path, "w").register(manager)
    await manager.wait("opened", "file")
    for number in range(50):
        manager.fire(Write(f"{number}\n"), "file")
    await manager.call(Close(), "file")
    assert path.read_text().split() == [str(number) for number in range(50)]
    assert not file.is_open


async def test_a_missing_file_is_an_error_event_naming_it(
    manager: Manager, tmp_path: Path
) -> None:
    recorder = Recorder().register(manager)
    missing = tmp_path / "missing.txt"
    File(missing).register(manager)
    [error] = await recorder.until("error")
    assert isinstance(error.args[0], FileNotFoundError)
    assert str(missing) in str(error.args[0])
    assert recorder.named("opened") == []


async def test_writing_to_a_file_opened_for_reading_is_an_error(
    manager: Manager, tmp_path: Path
) -> None:
    path = tmp_path / "in.txt"
    path.write_text("")
    recorder = Recorder().register(manager)
    File(path, autoclose=False).register(manager)
    await recorder.until("eof")
    manager.fire(Write("nope"), "file")
    [error] = await recorder.until("error")
    assert "opened for reading" in str(error.args[0])


async def test_without_autoclose_resume_reads_what_was_appended(
    manager: Manager, tmp_path: Path
) -> None:
    path = tmp_path / "log.txt"
    path.write_text("one\n")
    recorder = Recorder().register(manager)
    File(path, autoclose=False).register(manager)
    await recorder.until("eof")
    with path.open("a") as log:
        log.write("two\n")
    manager.fire(Resume(), "file")
    await recorder.until("eof", 2)
    assert "".join(event.args[0] for event in recorder.named("read")) == "one\ntwo\n"


async def test_a_pipe_is_read_when_ready(manager: Manager) -> None:
    reading, writing = os.pipe()
    recorder = Recorder().register(manager)
    try:
        File(reading, "rb", channel="pipe").register(manager)
        await recorder.until("opened")
        os.write(writing, b"through the pipe")
        os.close(writing)
        await recorder.until("eof")
    finally:
        os.close(reading)
    assert b"".join(event.args[0] for event in recorder.named("read")) == b"through the pipe"


def test_standard_streams_are_files_on_their_own_channels() -> None:
    assert StdIn().channel == "stdin"
    assert StdOut(binary=True).mode == "wb"


async def test_seek_moves_the_position_for_the_next_write(
    manager: Manager, tmp_path: Path
) -> None:
    path = tmp_path / "patch.bin"
    path.write_bytes(b"0123456789")
    File(path, "r+b", autoclose=False).register(manager)
    await manager.wait("eof", "file")
    assert await manager.call(Seek(4), "file") == 4
    await manager.call(Write(b"AB"), "file")
    await manager.call(Close(), "file")
    assert path.read_bytes() == b"0123AB6789"
