"""Running a tree: run(), start()/stop(), async with, signals and lifecycle events."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import textwrap
import threading
from typing import Any

import pytest

from relays import Component, Event
from relays.testing import Manager


class Lifecycle(Component):
    def __init__(self) -> None:
        super().__init__()
        self.seen: list[str] = []

    def started(self, component: Any) -> None:
        self.seen.append("started")

    def stopped(self, component: Any) -> None:
        self.seen.append("stopped")

    def ping(self) -> str:
        return f"pong from {threading.current_thread().name}"


def test_start_runs_in_a_thread_and_stop_waits_for_it() -> None:
    app = Lifecycle()
    thread = app.start()
    assert thread.is_alive()
    assert app.running
    assert app.fire(Event.create("ping")).get(timeout=2).startswith("pong from relays-")
    app.stop()
    assert not thread.is_alive()
    assert not app.running
    assert app.seen == ["started", "stopped"]


def test_start_twice_is_an_error() -> None:
    app = Lifecycle()
    app.start()
    try:
        with pytest.raises(RuntimeError, match="already running"):
            app.start()
    finally:
        app.stop()


def test_only_a_root_runs() -> None:
    root, child = Manager(), Lifecycle()
    root += child
    with pytest.raises(RuntimeError, match="root"):
        child.run()


def test_run_blocks_until_a_handler_stops_it() -> None:
    class Once(Lifecycle):
        def started(self, component: Any) -> None:
            super().started(component)
            self.stop()

    app = Once()
    app.run()
    assert app.seen == ["started", "stopped"]


async def test_async_with_runs_inside_an_existing_loop() -> None:
    app = Lifecycle()
    async with app:
        assert app.running
        assert (await app.call(Event.create("ping"))).startswith("pong from MainThread")
    assert not app.running
    assert app.seen == ["started", "stopped"]


async def test_run_async_until_stop() -> None:
    app = Lifecycle()
    task = asyncio.create_task(app.run_async())
    await asyncio.sleep(0.01)
    assert app.running
    app.stop()
    await asyncio.wait_for(task, 2)
    assert app.seen == ["started", "stopped"]


async def test_async_stopped_handlers_finish_before_teardown() -> None:
    done: list[str] = []

    class Cleanup(Component):
        async def stopped(self, component: Any) -> None:
            await asyncio.sleep(0.01)
            done.append("cleaned")

    async with Cleanup():
        pass
    assert done == ["cleaned"]


async def test_running_handler_tasks_are_cancelled_on_stop() -> None:
    cancelled: list[bool] = []

    class Forever(Component):
        async def started(self, component: Any) -> None:
            try:
                await asyncio.sleep(60)
            except asyncio.CancelledError:
                cancelled.append(True)
                raise

    async with Forever():
        await asyncio.sleep(0.01)
    assert cancelled == [True]


@pytest.mark.integration
@pytest.mark.parametrize("signo", [signal.SIGINT, signal.SIGTERM])
def test_signals_stop_gracefully(signo: int) -> None:
    program = textwrap.dedent(
        """
        import sys
        from relays import Component

        class App(Component):
            def started(self, component):
                print("started", flush=True)

            def signal(self, signo, stack):
                print("signal", signo, flush=True)

            def stopped(self, component):
                print("stopped", flush=True)

        App().run()
        print("exited", flush=True)
        """
    )
    process = subprocess.Popen([sys.executable, "-c", program], stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    assert process.stdout.readline().strip() == "started"
    os.kill(process.pid, signo)
    output, _ = process.communicate(timeout=10)
    assert process.returncode == 0
    assert output.split("\n")[:3] == [f"signal {int(signo)}", "stopped", "exited"]


def test_uvloop_asked_for_but_missing_says_what_to_install(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import builtins

    real_import = builtins.__import__

    def no_uvloop(name: str, *args: Any, **kwargs: Any) -> Any:
        if name == "uvloop":
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_uvloop)
    with pytest.raises(RuntimeError, match=r"pip install 'relays\[uvloop\]'"):
        Lifecycle().run(use_uvloop=True)


def test_runs_on_uvloop_when_asked() -> None:
    uvloop = pytest.importorskip("uvloop", reason="uvloop is in the dev group; absent here")

    class Probe(Component):
        def __init__(self) -> None:
            super().__init__()
            self.loop_type: type | None = None

        async def started(self, component: Any) -> None:
            self.loop_type = type(asyncio.get_running_loop())
            assert await self.call(Event.create("ping_probe")) == "pong"
            self.stop()

        def ping_probe(self) -> str:
            return "pong"

    app = Probe()
    app.run(use_uvloop=True)
    assert app.loop_type is uvloop.Loop


def test_uvloop_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    uvloop = pytest.importorskip("uvloop", reason="uvloop is in the dev group; absent here")
    from relays import new_event_loop

    monkeypatch.setenv("RELAYS_UVLOOP", "1")
    loop = new_event_loop()
    try:
        assert isinstance(loop, uvloop.Loop)
    finally:
        loop.close()
    monkeypatch.setenv("RELAYS_UVLOOP", "0")
    loop = new_event_loop()
    try:
        assert not isinstance(loop, uvloop.Loop)
    finally:
        loop.close()


def test_uvloop_is_used_when_installed_and_nobody_chose(monkeypatch: pytest.MonkeyPatch) -> None:
    uvloop = pytest.importorskip("uvloop", reason="uvloop is in the dev group; absent here")
    from relays import new_event_loop

    monkeypatch.delenv("RELAYS_UVLOOP", raising=False)
    loop = new_event_loop()
    try:
        assert isinstance(loop, uvloop.Loop)
    finally:
        loop.close()
    loop = new_event_loop(use_uvloop=False)  # an explicit choice wins
    try:
        assert not isinstance(loop, uvloop.Loop)
    finally:
        loop.close()


def test_asyncio_loop_when_uvloop_is_missing_and_nobody_chose(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from relays import new_event_loop

    monkeypatch.setenv("RELAYS_UVLOOP", "")
    monkeypatch.setitem(sys.modules, "uvloop", None)  # import uvloop fails
    loop = new_event_loop()
    try:
        assert isinstance(loop, asyncio.BaseEventLoop)
    finally:
        loop.close()
    with pytest.raises(RuntimeError, match="pip install"):
        new_event_loop(use_uvloop=True)
