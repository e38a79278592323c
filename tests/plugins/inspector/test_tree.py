"""The tree picture and the handler tables, from the kernel's public API."""

from __future__ import annotations

import re
import shutil
from typing import Any

import pytest

from relays import Component, graph, handler
from relays_inspector._tree import (
    component_key,
    describe_tree,
    draw_tree,
    find_component,
    handler_rows,
)


class Child(Component):
    channel = "kids"

    def ping(self) -> None: ...

    @handler("ping", priority=5)
    def early_ping(self) -> None: ...


class Parent(Component):
    def hello(self) -> None: ...


def tree() -> tuple[Parent, Child, Child]:
    first, second = Child(), Child(channel='odd "channel"')
    return Parent() + first + second, first, second


def test_describe_counts_each_components_own_handlers() -> None:
    root, _first, second = tree()
    looks = describe_tree(root)
    assert [looks[id(node)].label.split("\n") for node in root.walk()] == [
        ["Parent", "channel: *", "1 handler"],
        ["Child", "channel: kids", "2 handlers"],
        ["Child", 'channel: odd "channel"', "2 handlers"],
    ]
    assert looks[id(second)].id == component_key(second)
    assert find_component(root, component_key(second)) is second
    assert find_component(root, "c0") is None


def test_the_dot_source_escapes_names_and_channels() -> None:
    root, *_ = tree()
    looks = describe_tree(root)
    dot = graph(root, "dot", node=lambda component: looks[id(component)])
    assert 'channel: odd \\"channel\\"' in dot
    assert "2 handlers" in dot
    assert "1 handler\\n" not in dot


@pytest.mark.parametrize("graphviz", [False, pytest.param(True, id="graphviz")])
def test_the_picture_has_every_component_as_a_clickable_node(graphviz: bool) -> None:
    if graphviz and shutil.which("dot") is None:
        pytest.skip("Graphviz is not installed (apt-get install graphviz)")
    root, *_ = tree()
    svg = draw_tree(root, describe_tree(root), graphviz=graphviz)
    assert svg.startswith("<svg")
    for node in root.walk():
        assert re.search(rf'<g id="{component_key(node)}" class="node"', svg), node
    assert "odd &quot;channel&quot;" in svg or "odd &#34;channel&#34;" in svg
    assert "1 handler<" in svg


def test_the_built_in_layout_of_a_lone_component() -> None:
    lone = Parent()
    svg = draw_tree(lone, describe_tree(lone), graphviz=False)
    assert svg.count('class="node"') == 1
    assert "1 handler<" in svg


def test_a_graphviz_that_fails_gives_way_to_the_built_in_layout(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    false = shutil.which("false")
    assert false is not None
    monkeypatch.setattr(shutil, "which", lambda name: false)
    root, *_ = tree()
    svg = draw_tree(root, describe_tree(root), graphviz=True)
    assert svg.count('class="node"') == 3


def test_a_component_that_joined_after_the_count_is_drawn_without_one() -> None:
    root, *_ = tree()
    looks = describe_tree(root)
    late = Child(channel="late").register(root)
    svg = draw_tree(root, looks, graphviz=False)
    assert f'<g id="{component_key(late)}" class="node">' in svg
    assert svg.count(" handler") == 3


def test_handler_rows_run_in_order_with_priorities() -> None:
    root, first, _ = tree()
    rows = handler_rows(first)
    assert [(row.event, row.priority, row.handler) for row in rows] == [
        ("ping", 5, "Child.early_ping"),
        ("ping", 0, "Child.ping"),
    ]
    assert {row.channel for row in rows} == {"kids"}
    everything: list[Any] = handler_rows(root)
    assert {row.owner for row in everything} == {"Parent", "Child"}
    assert len(everything) == 5
