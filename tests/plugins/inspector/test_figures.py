"""Live figures: counts, the handler-time histogram, the time series, and their sampling."""

from __future__ import annotations

import time

import pytest

from relays import Component, Event
from relays_inspector import HISTOGRAM_BOUNDS, FigureLimits, StreamLimits
from relays_inspector._figures import Figures
from relays_inspector._stream import EventTap, Subscription


class Ping(Event):
    pass


class Slow(Event):
    pass


class App(Component):
    def ping(self) -> None:
        pass

    def slow(self) -> None:
        time.sleep(0.002)  # a handler holding the loop for 2 ms: the 2-5 ms bucket


def test_limits_are_checked() -> None:
    for wrong in ({"interval": 0}, {"points": 1}, {"names": 0}):
        with pytest.raises(ValueError, match=next(iter(wrong))):
            FigureLimits(**wrong)  # type: ignore[arg-type]


def test_counts_buckets_and_series() -> None:
    depth = [3]
    figures = Figures(FigureLimits(points=2, names=2), lambda: depth[0], lambda: 4)
    first, second = object(), object()
    for name, event in (("request", first), ("ping", second), ("other", object())):
        figures.event_started(event, name)
    figures.event_finished(first)  # not the last started: its time is not known
    figures.event_finished(object())
    sample = figures.sample()
    assert sample["counts"] == {"request": 1, "ping": 1, "(other)": 1}
    assert sum(sample["histogram"]["counts"]) == 0
    assert sample["histogram"]["bounds"] == list(HISTOGRAM_BOUNDS)
    assert sample["series"]["queue_depth"] == [3]
    assert sample["series"]["connections"] == [4]
    assert sample["series"]["requests_per_second"][0] > 0
    assert sample["has_server"] is True
    event = object()
    figures.event_started(event, "ping")
    figures.event_finished(event)
    for _ in range(3):
        sample = figures.sample()
    assert sum(sample["histogram"]["counts"]) == 1
    assert sample["histogram"]["counts"][0] == 1  # well under 10 µs
    assert len(sample["series"]["time"]) == 2  # bounded by points
    assert sample["series"]["requests_per_second"] == [0, 0]


def test_without_a_server_connections_are_unknown() -> None:
    sample = Figures(FigureLimits(), lambda: 0, lambda: None).sample()
    assert sample["has_server"] is False
    assert sample["series"]["connections"] == [-1]


async def test_a_watched_tree_sends_figures_with_handler_times() -> None:
    app = App()
    tap = EventTap(figure_limits=FigureLimits(interval=0.01), queue_depth=lambda: len(app))
    subscription = Subscription(StreamLimits(interval=0), names=frozenset({"nothing"}))
    async with app:
        tap.subscribe(subscription, app)
        await app.call(Ping())
        await app.call(Slow())
        batches = subscription.batches()
        await anext(batches)
        while True:  # the samples that came before both calls were done do not count
            message = await anext(batches)
            figures = message.get("figures")
            if figures is not None and "slow" in figures["counts"]:
                break
        tap.unsubscribe(subscription)
        await batches.aclose()
    assert figures["counts"]["ping"] == 1
    assert figures["counts"]["slow"] == 1
    histogram = figures["histogram"]
    slow_bucket = next(i for i, bound in enumerate(histogram["bounds"]) if bound >= 0.002)
    assert sum(histogram["counts"][slow_bucket:]) >= 1
    assert message["events"] == []  # the filter keeps every event out: only figures


async def test_sampling_stops_with_the_last_watcher() -> None:
    app = App()
    tap = EventTap(figure_limits=FigureLimits(interval=0.01))
    subscription = Subscription(StreamLimits())
    async with app:
        tap.subscribe(subscription, app)
        assert tap.sampling
        tap.unsubscribe(subscription)
        assert not tap.sampling
