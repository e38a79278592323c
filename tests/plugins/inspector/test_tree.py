"""The tree picture and the handler tables, from the kernel's public API."""

from __future__ import annotations

import re
import shutil
from typing import Any

import pytest

from relays import Component, handler
from relays_inspector._tree import (
    describe_tree,
    draw_tree,
    find_component,
    handler_rows,
    tree_dot,
    tree_svg,
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
    nodes = describe_tree(root)
    assert [node.name for node in nodes] == ["Parent", "Child", "Child"]
    assert [node.channel for node in nodes] == ["*", "kids", 'odd "channel"']
    assert [node.handlers for node in nodes] == [1, 2, 2]
    assert nodes[0].children == (nodes[1].key, nodes[2].key)
    assert find_component(root, nodes[2].key) is second
    assert find_component(root, "c0") is None


def test_the_dot_source_escapes_names_and_channels() -> None:
    root, *_ = tree()
    dot = tree_dot(describe_tree(root))
    assert 'channel: odd \\"channel\\"' in dot
    assert "2 handlers" in dot
    assert "1 handler\\n" not in dot


@pytest.mark.parametrize("graphviz", [False, pytest.param(True, id="graphviz")])
def test_the_picture_has_every_component_as_a_clickable_node(graphviz: bool) -> None:
    if graphviz and shutil.which("dot") is None:
        pytest.skip("Graphviz is not installed (apt-get install graphviz)")
    root, *_ = tree()
    nodes = describe_tree(root)
    svg = draw_tree(nodes, graphviz=graphviz)
    assert svg.startswith("<svg")
    for node in nodes:
        assert re.search(rf'<g id="{node.key}" class="node"', svg), node
    assert "odd &quot;channel&quot;" in svg or "odd &#34;channel&#34;" in svg


def test_the_built_in_layout_of_a_lone_component() -> None:
    svg = tree_svg(describe_tree(Parent()))
    assert svg.count('class="node"') == 1
    assert "1 handler<" in svg


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
