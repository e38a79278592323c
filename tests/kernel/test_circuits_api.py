"""The rest of circuits' core API: exit codes, len/in, two-stage unregister, notify,
success/complete channels, event.child()/cancel(), class-level handler listings and
task_success/task_failure."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import textwrap
from collections.abc import Generator
from typing import Any

import pytest

from relays import (
    BaseComponent,
    Component,
    Event,
    EventCancelled,
    PrepareUnregister,
    Worker,
    handler,
    task,
)
from relays.testing import Recorder


class Hello(Event):
    """hello()"""


class Ping(Event):
    """ping()"""


# -- stop(code) and SystemExit(code) --------------------------------------------------


class Recorded(Component):
    def __init__(self) -> None:
        super().__init__()
        self.stopped_handled = False

    def stopped(self, component: BaseComponent) -> None:
        self.stopped_handled = True


class StopsWithCode(Recorded):
    def started(self, component: BaseComponent) -> None:
        self.stop(3)


class RaisesSystemExit(Recorded):
    def started(self, component: BaseComponent) -> None:
        raise SystemExit(3)


class RaisesInAsyncHandler(Recorded):
    async def started(self, component: BaseComponent) -> None:
        await asyncio.sleep(0)
        raise SystemExit(3)


class RaisesInGeneratorHandler(Recorded):
    def started(self, component: BaseComponent) -> Generator[None, None, None]:
        yield
        raise SystemExit(3)


@pytest.mark.parametrize(
    "app_class",
    [StopsWithCode, RaisesSystemExit, RaisesInAsyncHandler, RaisesInGeneratorHandler],
)
def test_the_tree_stops_gracefully_and_run_exits_with_the_code(
    app_class: type[Recorded],
) -> None:
    app = app_class()
    with pytest.raises(SystemExit) as exit_:
        app.run()
    assert exit_.value.code == 3
    assert app.stopped_handled


def test_stop_without_a_code_makes_run_return() -> None:
    class App(Component):
        def started(self, component: BaseComponent) -> None:
            self.stop()

    assert App().run() is None  # type: ignore[func-returns-value]


def test_the_process_exit_status_is_the_code() -> None:
    program = textwrap.dedent(
        """
        from relays import Component

        class App(Component):
            def started(self, component):
                raise SystemExit(7)

        App().run()
        """
    )
    finished = subprocess.run([sys.executable, "-c", program], timeout=60, check=False)
    assert finished.returncode == 7


async def test_inside_async_with_a_code_stops_the_tree_without_exiting() -> None:
    stopping = asyncio.Event()

    class App(Component):
        def ping(self) -> None:
            raise SystemExit(5)

        def stopped(self, component: BaseComponent) -> None:
            stopping.set()

    app = App()
    async with app:
        app.fire(Ping())
        await stopping.wait()


# -- len(component), x in component ---------------------------------------------------


def test_len_counts_queued_events_and_in_finds_children_and_their_classes() -> None:
    class Child(Component):
        pass

    class Other(Component):
        pass

    root = Component()
    child = Child().register(root)
    assert child in root
    assert Child in root
    assert Component in root  # a subclass counts
    assert Other not in root
    assert root not in child
    queued = len(root)  # ``registered`` waits for the tree to run
    assert Component()  # never false, though nothing is queued
    assert len(Component()) == 0
    root.fire(Ping())
    root.fire(Ping())
    assert len(root) == queued + 2
    assert len(child) == len(root)  # the tree's queue, from any of its components


# -- prepare_unregister ---------------------------------------------------------------


class Goodbye(Event):
    """goodbye()"""


async def test_prepare_unregister_runs_and_its_cascade_completes_before_leaving() -> None:
    order: list[str] = []

    class Leaving(Component):
        channel = "leaving"

        def prepare_unregister(self, event: PrepareUnregister, component: Any) -> None:
            if event.in_subtree(self):
                order.append("prepare")
                self.fire(Goodbye())

        async def goodbye(self) -> None:
            await asyncio.sleep(0)
            order.append(f"goodbye, pending={self.unregister_pending}")

        def unregistered(self, component: Any, parent: Any) -> None:
            order.append("unregistered")

    app = Component()
    leaving = Leaving().register(app)
    recorder = Recorder().register(app)
    async with app:
        leaving.unregister()
        assert leaving.unregister_pending
        assert leaving.parent is app
        await recorder.until("unregistered")
    assert leaving.parent is None
    assert not leaving.unregister_pending
    assert order == ["prepare", "goodbye, pending=True", "unregistered"]


async def test_without_a_prepare_unregister_handler_a_component_leaves_at_once() -> None:
    app = Component()
    leaving = Component().register(app)
    async with app:
        leaving.unregister()
        assert leaving.parent is None


def test_in_subtree_is_true_for_the_leaving_component_and_below() -> None:
    root = Component()
    leaving = Component().register(root)
    below = Component().register(leaving)
    event = PrepareUnregister(leaving)
    assert event.in_subtree(leaving)
    assert event.in_subtree(below)
    assert not event.in_subtree(root)


# -- notify, success/failure/complete channels ------------------------------------------


async def test_notify_fires_value_changed_with_the_value() -> None:
    seen: list[Any] = []

    class App(Component):
        def hello(self) -> str:
            return "hi"

        def hello_value_changed(self, value: Any) -> None:
            seen.append(value.result)

    app = App()
    recorder = Recorder().register(app)
    async with app:
        event = Hello()
        event.notify = True
        app.fire(event)
        await recorder.until("hello_value_changed")
    assert seen == ["hi"]


async def test_notify_can_name_the_event_to_fire() -> None:
    class Named(Event):
        notify = "named_done"

    app = Component()
    recorder = Recorder().register(app)
    async with app:
        value = app.fire(Named())
        [done] = await recorder.until("named_done")
    assert done.args == (value,)


async def test_success_failure_and_complete_go_to_the_channels_named() -> None:
    class Watched(Event):
        success = True
        failure = True
        complete = True
        success_channels = ("audit",)
        failure_channels = ("audit",)
        complete_channels = ("audit",)

    class Works(Component):
        channel = "work"

        def watched(self, fail: bool) -> str:
            if fail:
                raise ValueError("no")
            return "ok"

    class Audit(Component):
        channel = "audit"

        def __init__(self) -> None:
            super().__init__()
            self.heard: list[str] = []

        def watched_success(self, event: Event, value: Any) -> None:
            self.heard.append(f"success {value}")

        def watched_failure(self, event: Event, error: Any) -> None:
            self.heard.append(f"failure {error}")

        def watched_complete(self, event: Event, value: Any) -> None:
            self.heard.append("complete")

        def exception(self, *args: Any, **kwargs: Any) -> None:
            pass

    app = Component()
    Works().register(app)
    audit = Audit().register(app)
    recorder = Recorder().register(app)
    async with app:
        app.fire(Watched(False), "work")
        await recorder.until("watched_complete")
        app.fire(Watched(True), "work")
        await recorder.until("watched_complete", 2)
    assert audit.heard == ["success ok", "complete", "failure no", "complete"]
    for follow in recorder.events:
        if follow.name.startswith("watched_"):
            assert follow.channels == ("audit",)


# -- event.child(), event.cancel() ------------------------------------------------------


def test_child_makes_an_event_named_after_its_parent() -> None:
    child = Hello().child("done", 1, key="k")
    assert child.name == "hello_done"
    assert child.args == (1,)
    assert child.kwargs == {"key": "k"}


async def test_a_cancelled_queued_event_runs_no_handler_and_its_value_says_so() -> None:
    ran: list[str] = []

    class App(Component):
        def hello(self) -> None:
            ran.append("hello")

    app = App()
    async with app:
        event = Hello()
        value = app.fire(event)
        event.cancel()
        with pytest.raises(EventCancelled, match="cancelled before its handlers ran"):
            await value
        assert event.cancelled
        await app.call(Ping())
    assert ran == []


async def test_cancel_while_handling_stops_the_handlers_after_it() -> None:
    ran: list[str] = []

    class App(Component):
        @handler("hello", priority=1)
        def first(self, event: Event) -> str:
            event.cancel()
            ran.append("first")
            return "first"

        @handler("hello")
        def second(self) -> None:
            ran.append("second")

    app = App()
    async with app:
        assert await app.call(Hello()) == "first"
    assert ran == ["first"]


# -- handlers(), events(), handles() on the class -------------------------------------


def test_the_class_lists_its_handlers_and_events() -> None:
    class App(Component):
        def hello(self) -> None: ...

        @handler("ping", "pong")
        def answer(self) -> None: ...

        def _private(self) -> None: ...

    assert App.handlers() == [App.hello, App.answer]
    assert App.events() == ["hello", "ping", "pong"]
    assert App.handles("hello", "pong")
    assert not App.handles("hello", "other")
    # On a component, handlers() still lists the tree's Handler records.
    assert {h.name for h in App().handlers()} == {"hello", "ping", "pong"}


# -- task_success / task_failure ------------------------------------------------------


def double(number: int) -> int:
    return number * 2


def broken() -> None:
    raise ValueError("broken task")


async def test_a_worker_task_is_followed_by_task_success_or_task_failure() -> None:
    class App(Component):
        def __init__(self) -> None:
            super().__init__()
            self.heard: list[Any] = []
            Worker().register(self)

        @handler("task_success", channel="worker")
        def succeeded(self, event: Event, result: Any) -> None:
            self.heard.append(("success", result))

        @handler("task_failure", channel="worker")
        def failed(self, event: Event, error: Any) -> None:
            self.heard.append(("failure", str(error)))

        def exception(self, *args: Any, **kwargs: Any) -> None:
            pass

    app = App()
    recorder = Recorder().register(app)
    async with app:
        assert await app.call(task(double, 21), "worker") == 42
        await recorder.until("task_success")
        with pytest.raises(ValueError, match="broken task"):
            await app.call(task(broken), "worker")
        await recorder.until("task_failure")
    assert app.heard == [("success", 42), ("failure", "broken task")]


# -- components given as class attributes ---------------------------------------------


def test_a_component_given_as_a_class_attribute_is_registered_under_the_instance() -> None:
    class Helper(Component):
        channel = "helper"

    class App(Component):
        helper = Helper()

    class MoreApp(App):
        other = Helper()

    app = MoreApp()
    assert app.components == [App.helper, MoreApp.other]
    assert App.helper.parent is app
    assert Helper in app


async def test_a_component_may_still_handle_events_named_events_or_handles() -> None:
    class App(Component):
        def events(self) -> str:
            return "handled"

    app = App()
    async with app:
        assert await app.call(Event.create("events")) == "handled"


@pytest.mark.parametrize("listening", [True, False])
async def test_a_failed_task_is_logged_only_when_nobody_handles_task_failure(
    listening: bool, caplog: pytest.LogCaptureFixture
) -> None:
    class App(Component):
        def __init__(self) -> None:
            super().__init__()
            Worker().register(self)

    class Listener(Component):
        channel = "worker"

        def task_failure(self, event: Event, error: Any) -> None:
            pass

    app = App()
    if listening:
        Listener().register(app)
    async with app:
        value = app.fire(task(broken), "worker")  # it fails in the pool, later
        await app.wait("exception")  # dispatched (and logged, or not) by now
        with pytest.raises(ValueError, match="broken task"):
            await value
    unhandled = [r for r in caplog.records if r.getMessage().startswith("unhandled ValueError")]
    assert len(unhandled) == (0 if listening else 1)
