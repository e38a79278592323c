"""Child processes: output as read events, input by write, exit as terminated(code)."""

from __future__ import annotations

import signal
import sys

import pytest

from relays.testing import Manager, Recorder
from relays_io import Close, Process, ProcessError, SendSignal, Spawn, Write

PYTHON = sys.executable


async def test_output_arrives_on_the_stream_channels_before_terminated(
    manager: Manager,
) -> None:
    recorder = Recorder().register(manager)
    script = "import sys; print('out'); print('err', file=sys.stderr); sys.exit(3)"
    process = Process([PYTHON, "-c", script]).register(manager)
    [terminated] = await recorder.until("terminated")
    assert terminated.args == (3,)
    stdout = [e.args[0] for e in recorder.named("read") if e.channels == ("process.stdout",)]
    stderr = [e.args[0] for e in recorder.named("read") if e.channels == ("process.stderr",)]
    assert b"".join(stdout).strip() == b"out"
    assert b"".join(stderr).strip() == b"err"
    [started] = recorder.named("started")[-1:]
    assert started.args == (process,)
    assert process.returncode == 3
    assert not process.alive


async def test_write_goes_to_stdin_and_close_ends_it(manager: Manager) -> None:
    recorder = Recorder().register(manager)
    script = "import sys; sys.stdout.write(sys.stdin.read().upper())"
    Process([PYTHON, "-c", script], channel="upper").register(manager)
    await recorder.until("started")
    manager.fire(Write(b"hello "), "upper")
    manager.fire(Write("world"), "upper")
    manager.fire(Close(), "upper")
    [terminated] = await recorder.until("terminated")
    assert terminated.args == (0,)
    output = [e.args[0] for e in recorder.named("read") if e.channels == ("upper.stdout",)]
    assert b"".join(output) == b"HELLO WORLD"


async def test_a_signal_ends_the_child_with_a_negative_code(manager: Manager) -> None:
    recorder = Recorder().register(manager)
    script = "import sys, time; print('ready', flush=True); time.sleep(60)"
    Process([PYTHON, "-c", script]).register(manager)
    await recorder.until("read")
    manager.fire(SendSignal(signal.SIGTERM), "process")
    [terminated] = await recorder.until("terminated")
    assert terminated.args == (-signal.SIGTERM,)


async def test_a_program_that_cannot_start_is_an_error_naming_it(manager: Manager) -> None:
    recorder = Recorder().register(manager)
    Process(["/nonexistent/program", "--flag"]).register(manager)
    [error] = await recorder.until("error")
    assert isinstance(error.args[0], ProcessError)
    assert "/nonexistent/program" in str(error.args[0])
    assert recorder.named("terminated") == []


async def test_without_autostart_spawn_starts_it_and_can_restart(manager: Manager) -> None:
    recorder = Recorder().register(manager)
    Process([PYTHON, "-c", "print('hi')"], autostart=False).register(manager)
    manager.fire(Spawn(), "process")
    await recorder.until("terminated")
    manager.fire(Spawn(), "process")
    terminated = await recorder.until("terminated", 2)
    assert [event.args for event in terminated] == [(0,), (0,)]


async def test_a_running_child_is_terminated_when_the_tree_stops(manager: Manager) -> None:
    recorder = Recorder()
    app = Manager() + recorder
    script = "import time; print('up', flush=True); time.sleep(60)"
    process = Process([PYTHON, "-c", script], stop_timeout=10).register(app)
    async with app:
        await recorder.until("read")
        assert process.alive
    assert process.returncode == -signal.SIGTERM


def test_arguments_are_checked() -> None:
    with pytest.raises(TypeError, match="non-empty list"):
        Process("ls -l")
    with pytest.raises(TypeError, match="one string"):
        Process(["ls"], shell=True)
