"""Notify reports real file-system changes from inotify, recursively, debounced."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from relays.testing import Manager, Recorder
from relays_io import Notify

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="Notify uses Linux's inotify"
)


async def test_created_modified_moved_and_deleted(manager: Manager, tmp_path: Path) -> None:
    recorder = Recorder().register(manager)
    Notify([tmp_path]).register(manager)
    await recorder.until("watching")
    target = tmp_path / "a.txt"
    target.write_text("one")
    [created] = await recorder.until("created")
    assert created.args == (str(target),)
    await recorder.until("modified")
    target.rename(tmp_path / "b.txt")
    [moved] = await recorder.until("moved")
    assert moved.args == (str(target), str(tmp_path / "b.txt"))
    (tmp_path / "b.txt").unlink()
    [deleted] = await recorder.until("deleted")
    assert deleted.args == (str(tmp_path / "b.txt"),)


async def test_a_burst_of_writes_is_reported_once(manager: Manager, tmp_path: Path) -> None:
    target = tmp_path / "log.txt"
    target.write_text("")
    recorder = Recorder().register(manager)
    # A long window: the writes below all land inside it, however slow the machine.
    Notify([target], debounce=5.0).register(manager)
    await recorder.until("watching")
    with target.open("a") as log:
        for number in range(20):
            log.write(f"{number}\n")
            log.flush()
    [modified] = await recorder.until("modified", timeout=30)
    assert modified.args == (str(target),)
    assert len(recorder.named("modified")) == 1


async def test_directories_below_are_watched_including_new_ones(
    manager: Manager, tmp_path: Path
) -> None:
    (tmp_path / "old").mkdir()
    recorder = Recorder().register(manager)
    Notify([tmp_path], debounce=0).register(manager)
    await recorder.until("watching")
    (tmp_path / "old" / "x").write_text("x")
    await recorder.until("created", 1)
    (tmp_path / "new").mkdir()
    await recorder.until("created", 2)
    (tmp_path / "new" / "y").write_text("y")
    created = await recorder.until("created", 3)
    assert [event.args[0] for event in created] == [
        str(tmp_path / "old" / "x"),
        str(tmp_path / "new"),
        str(tmp_path / "new" / "y"),
    ]


async def test_a_missing_path_is_an_error_naming_it(manager: Manager, tmp_path: Path) -> None:
    recorder = Recorder().register(manager)
    Notify([tmp_path / "nowhere"]).register(manager)
    [error] = await recorder.until("error")
    assert isinstance(error.args[0], FileNotFoundError)
    assert str(tmp_path / "nowhere") in str(error.args[0])
