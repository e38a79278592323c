"""The event stream: a bounded, filtered buffer, and a listener only while someone watches."""

from __future__ import annotations

from pathlib import Path

import pytest

from relays import Component, Event, handler
from relays_inspector import StreamLimits
from relays_inspector._stream import EventTap, Subscription, relative_files

HERE = Path(__file__).resolve()


class Ping(Event):
    pass


class Boom(Event):
    pass


class App(Component):
    def ping(self) -> str:
        return "pong"

    @handler("boom")
    def boom(self) -> None:
        raise RuntimeError("it went boom")


def test_limits_are_checked() -> None:
    with pytest.raises(ValueError, match="buffer"):
        StreamLimits(buffer=0)
    with pytest.raises(ValueError, match="interval"):
        StreamLimits(interval=-1)
    with pytest.raises(ValueError, match="trim"):
        StreamLimits(trim=0)


async def test_a_full_buffer_counts_what_it_drops() -> None:
    subscription = Subscription(StreamLimits(buffer=3, trim=20))
    for number in range(10):
        subscription.offer(Ping(number, "x" * 100), (number,), {})
    message = subscription.take()
    assert [record["name"] for record in message["events"]] == ["ping"] * 3
    assert message["dropped"] == 7
    assert message["sent"] == 3
    assert all(record["text"].endswith("...") for record in message["events"])
    assert len(message["events"][0]["text"]) == 23
    assert subscription.take() == {"events": [], "dropped": 7, "sent": 3}


async def test_filters_by_name_and_channel() -> None:
    subscription = Subscription(
        StreamLimits(), names=frozenset({"ping"}), channels=frozenset({"web"})
    )
    pinged_on_web, pinged_elsewhere, other = Ping(), Ping(), Boom()
    pinged_on_web.channels = ("web",)
    pinged_elsewhere.channels = ("other",)
    other.channels = ("web",)
    for event in (pinged_on_web, pinged_elsewhere, other):
        subscription.offer(event, (), {})
    [record] = subscription.take()["events"]
    assert (record["name"], record["channels"]) == ("ping", ["web"])


async def test_the_listener_is_in_the_tree_only_while_someone_watches() -> None:
    app = App()
    tap = EventTap()
    async with app:
        before = len(app.handlers())
        first, second = Subscription(StreamLimits()), Subscription(StreamLimits())
        tap.subscribe(first, app)
        tap.subscribe(second, app)
        assert len(app.handlers()) == before + 3  # the record, and the figures clock
        assert await app.call(Ping()) == "pong"
        assert "ping" in [record["name"] for record in first.take()["events"]]
        assert "ping" in [record["name"] for record in second.take()["events"]]
        tap.unsubscribe(first)
        assert tap.watching == 1
        tap.unsubscribe(second)
        tap.unsubscribe(second)  # twice is harmless
        assert len(app.handlers()) == before
        assert tap.watching == 0


async def test_an_error_carries_its_traceback() -> None:
    app = App()
    tap = EventTap()
    subscription = Subscription(StreamLimits(trim=10_000))
    async with app:
        tap.subscribe(subscription, app)
        app.fire(Boom())
        await app.wait("exception")  # waits from here: the fire above is only queued
        tap.unsubscribe(subscription)
    errors = [record for record in subscription.take()["events"] if "error" in record]
    assert errors, "no exception event was recorded"
    assert errors[0]["error"] == "RuntimeError: it went boom"
    assert "raise RuntimeError" in errors[0]["traceback"]
    assert "App.boom" in errors[0]["handler"]


async def test_batches_wait_for_records() -> None:
    subscription = Subscription(StreamLimits(interval=0))
    batches = subscription.batches()
    assert await anext(batches) == {"events": [], "dropped": 0, "sent": 0}
    subscription.offer(Ping(), (), {})
    message = await anext(batches)
    assert [record["name"] for record in message["events"]] == ["ping"]
    await batches.aclose()


def test_a_traceback_names_files_under_the_working_directory_relative_to_it() -> None:
    traceback = (
        "Traceback (most recent call last):\n"
        '  File "/srv/app/kernel/relays/_dispatch.py", line 3, in _drain\n'
        "    result = callback(*args)\n"
        '  File "/srv/application.py", line 5, in boom\n'
        '  File "/usr/lib/python3.11/asyncio/events.py", line 80, in _run\n'
        '    print("  File \\"/srv/app/x.py\\"")\n'
        "RuntimeError: it went boom\n"
    )
    assert relative_files(traceback, "/srv/app") == (
        "Traceback (most recent call last):\n"
        '  File "kernel/relays/_dispatch.py", line 3, in _drain\n'
        "    result = callback(*args)\n"
        '  File "/srv/application.py", line 5, in boom\n'
        '  File "/usr/lib/python3.11/asyncio/events.py", line 80, in _run\n'
        '    print("  File \\"/srv/app/x.py\\"")\n'
        "RuntimeError: it went boom\n"
    )
    assert relative_files(traceback, "/srv/app/") == relative_files(traceback, "/srv/app")


async def test_the_recorded_traceback_is_relative_to_the_working_directory(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    here = HERE
    monkeypatch.chdir(here.parent)
    app = App()
    subscription = Subscription(StreamLimits(trim=10_000))
    tap = EventTap()
    async with app:
        tap.subscribe(subscription, app)
        app.fire(Boom())
        await app.wait("exception")
        tap.unsubscribe(subscription)
    (error,) = [record for record in subscription.take()["events"] if "error" in record]
    assert f'File "{here.name}"' in error["traceback"]
    assert str(here) not in error["traceback"]
    assert str(here) not in error["text"]  # the event's repr holds the traceback too
