"""graph() draws a tree as text, DOT, SVG (with or without Graphviz) and PNG."""

from __future__ import annotations

import shutil
import xml.etree.ElementTree as ElementTree
from pathlib import Path

import pytest

from relays import Component, GraphNode, GraphvizFailed, GraphvizNotFound, graph

HAS_GRAPHVIZ = shutil.which("dot") is not None
needs_graphviz = pytest.mark.skipif(
    not HAS_GRAPHVIZ, reason="Graphviz's dot is not installed (apt-get install graphviz)"
)


def make_tree() -> Component:
    app = Component()
    left = Component(channel="left").register(app)
    Component(channel="<&>").register(left)
    Component(channel="leaf").register(left)
    Component(channel="right").register(app)
    return app


def test_the_built_in_svg_has_a_box_and_a_title_per_component(tmp_path: Path) -> None:
    path = tmp_path / "tree.svg"
    svg = graph(make_tree(), "svg", graphviz=False, path=path)
    assert path.read_text() == svg
    document = ElementTree.fromstring(svg)  # well-formed, the odd channel escaped
    namespace = "{http://www.w3.org/2000/svg}"
    assert len(document.findall(f".//{namespace}rect")) == 5
    assert len(document.findall(f".//{namespace}line")) == 4
    labels = [text.text for text in document.findall(f".//{namespace}text")]
    assert "<&>" in labels


def test_a_single_component_is_drawn_too() -> None:
    svg = graph(Component(), "svg", graphviz=False)
    assert svg.count("<rect") == 1


def test_text_and_dot_stay_as_they_were() -> None:
    assert graph(make_tree()).splitlines()[1].startswith(" * <Component/left")
    assert graph(make_tree(), "dot").startswith("digraph G {")


def test_png_without_graphviz_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(shutil, "which", lambda name: None)
    with pytest.raises(GraphvizNotFound, match="apt-get install graphviz"):
        graph(make_tree(), "png")
    with pytest.raises(GraphvizNotFound):
        graph(make_tree(), "svg", graphviz=True)
    assert graph(make_tree(), "svg").startswith("<svg")  # falls back when not required


def test_an_unknown_format_is_refused() -> None:
    with pytest.raises(ValueError, match="'svg' or 'png'"):
        graph(make_tree(), "gif")  # type: ignore[call-overload]


def test_a_file_name_given_as_the_format_says_how_to_write_the_file() -> None:
    # circuits' graph(x, name) took a file name where relays takes the format.
    with pytest.raises(ValueError, match=r"graph\(root, 'png', path='app\.png'\)"):
        graph(make_tree(), "app.png")  # type: ignore[call-overload]


@needs_graphviz
def test_graphviz_draws_svg_and_png(tmp_path: Path) -> None:
    svg = graph(make_tree(), "svg")
    assert "<svg" in svg
    assert "Component&#45;1" in svg  # Graphviz escapes the dash
    png = graph(make_tree(), "png", path=tmp_path / "tree.png")
    assert png.startswith(b"\x89PNG")
    assert (tmp_path / "tree.png").read_bytes() == png


def looks(component: Component) -> GraphNode:
    """A node function as a page would write one: an id and a link per box, two lines."""
    key = f"box-{id(component)}"
    return GraphNode(
        label=f"{component.name}\nchannel: {component.channel}",
        id=key,
        link=f"/components/{key}?a=1&b=2",
        tooltip=f'"{component.name}"',
    )


def test_the_node_function_is_called_once_per_component_in_walk_order() -> None:
    app = make_tree()
    seen: list[Component] = []

    def node(component: Component) -> GraphNode:
        seen.append(component)
        return GraphNode(label=component.name)

    graph(app, "svg", graphviz=False, node=node)
    assert seen == list(app.walk())


def test_the_built_in_svg_draws_each_look() -> None:
    app = make_tree()
    document = ElementTree.fromstring(graph(app, "svg", graphviz=False, node=looks))
    namespace = "{http://www.w3.org/2000/svg}"
    groups = document.findall(f".//{namespace}g[@class='node']")
    assert [group.get("id") for group in groups] == [f"box-{id(c)}" for c in app.walk()]
    first = groups[0]
    assert first.findtext(f"{namespace}title") == '"Component"'
    link = first.find(f"{namespace}a")
    assert link is not None
    assert link.get("href") == f"/components/box-{id(app)}?a=1&b=2"
    lines = [text.text for text in link.findall(f"{namespace}text")]
    assert lines == ["Component", "channel: *"]
    odd = [g for g in groups if "channel: <&>" in [t.text for t in g.iter(f"{namespace}text")]]
    assert len(odd) == 1


def test_a_long_label_widens_every_box() -> None:
    wide = graph(Component(), "svg", graphviz=False, node=lambda c: GraphNode(label="x" * 60))
    narrow = graph(Component(), "svg", graphviz=False, node=lambda c: GraphNode(label="x"))
    assert 'width="150"' in narrow
    assert 'width="150"' not in wide


def test_the_dot_source_declares_each_look_escaped() -> None:
    app = Component()
    Component(channel='say "hi"\\').register(app)
    dot = graph(app, "dot", node=lambda c: GraphNode(label=f"{c.name}\n{c.channel}", id="k"))
    assert '"Component-1" [label="Component\\nsay \\"hi\\"\\\\", id="k"];' in dot
    assert '"Component-0" -> "Component-1";' in dot
    assert "URL" not in dot
    assert "tooltip" not in dot


def test_a_graphviz_that_fails_raises_graphviz_failed(monkeypatch: pytest.MonkeyPatch) -> None:
    false = shutil.which("false")
    assert false is not None
    monkeypatch.setattr(shutil, "which", lambda name: false)
    with pytest.raises(GraphvizFailed, match="Graphviz failed"):
        graph(make_tree(), "svg")


def test_a_graphviz_past_its_timeout_raises_graphviz_failed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    stuck = tmp_path / "dot"
    stuck.write_text("#!/bin/sh\nexec sleep 60\n")
    stuck.chmod(0o755)
    monkeypatch.setattr(shutil, "which", lambda name: str(stuck))
    with pytest.raises(GraphvizFailed, match="graphviz_timeout"):
        graph(make_tree(), "svg", graphviz_timeout=0.01)


@needs_graphviz
def test_graphviz_draws_each_look() -> None:
    app = make_tree()
    svg = graph(app, "svg", node=looks)
    document = ElementTree.fromstring(svg)  # well-formed: the link's "&" escaped too
    namespace = "{http://www.w3.org/2000/svg}"
    groups = document.findall(f".//{namespace}g[@class='node']")
    assert {group.get("id") for group in groups} == {f"box-{id(c)}" for c in app.walk()}
    links = [a.get("{http://www.w3.org/1999/xlink}href") for a in document.iter(f"{namespace}a")]
    assert f"/components/box-{id(app)}?a=1&b=2" in links
    texts = [text.text for text in document.iter(f"{namespace}text")]
    assert "channel: <&>" in texts
