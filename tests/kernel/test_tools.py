"""graph() draws the tree; inspect() is tested with the components."""

from __future__ import annotations

import re

import pytest

from relays import Component, graph


class Pound(Component):
    def __init__(self) -> None:
        super().__init__()
        Bob().register(self)
        Fred().register(self)


class Bob(Component):
    def started(self, *args: object) -> None:
        pass


class Fred(Component):
    def started(self, *args: object) -> None:
        pass


def test_text_graph_indents_children() -> None:
    lines = graph(Pound()).splitlines()
    shapes = [re.sub(r" \d+:\w+ ", " PID ", line) for line in lines]
    assert shapes == [
        "* <Pound/* PID (queued=2, channels=1, handlers=2) [S]>",
        " * <Bob/* PID (queued=0, channels=1, handlers=1) [S]>",
        " * <Fred/* PID (queued=0, channels=1, handlers=1) [S]>",
    ]


def test_queued_counts_the_registered_events_waiting_to_run() -> None:
    assert "(queued=2," in graph(Pound()).splitlines()[0]


def test_dot_graph_has_an_edge_per_child() -> None:
    dot = graph(Pound(), format="dot")
    assert dot.startswith("digraph G {")
    assert '"Pound-0" -> "Bob-1";' in dot
    assert '"Pound-0" -> "Fred-2";' in dot


def test_dot_graph_of_a_single_component() -> None:
    assert '"Bob-0";' in graph(Bob(), format="dot")


def test_unknown_format_is_refused() -> None:
    with pytest.raises(ValueError, match="format"):
        graph(Bob(), format="gif")  # type: ignore[call-overload]
