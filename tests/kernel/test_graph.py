"""graph() draws a tree as text, DOT, SVG (with or without Graphviz) and PNG."""

from __future__ import annotations

import shutil
import xml.etree.ElementTree as ElementTree
from pathlib import Path

import pytest

from relays import Component, GraphvizNotFound, graph

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
