"""Drawing a tree: as text, Graphviz DOT, SVG or PNG.

Theory of operation. :func:`graph` walks the tree once, at the start, into a snapshot:
each component's look (a :class:`GraphNode`: its label, and optionally an id, a link and
a tooltip) and its children as they were then. Everything after reads only that snapshot,
so a picture is always of one tree, and a caller's ``node`` function is called once per
component, in the order of :meth:`~relays.BaseComponent.walk`.

Text and DOT are written here. SVG and PNG come from Graphviz's ``dot`` program when it
is installed; without it, SVG is drawn by a small layout of our own (one row per depth,
leaves spread evenly, each parent centred over its children), so ``graph(app, "svg")``
always works, and PNG, which needs a rasteriser, raises :class:`GraphvizNotFound` saying
what to install. Both SVGs give every component a ``<g class="node">`` carrying the look's
``id``, so a page can treat either picture alike.
"""

from __future__ import annotations

import html
import os
import shutil
import subprocess
from collections.abc import Callable
from typing import Literal, overload

import attrs

from ._components import BaseComponent

__all__ = ["GRAPHVIZ_TIMEOUT", "GraphNode", "GraphvizFailed", "GraphvizNotFound", "graph"]

#: Seconds Graphviz may take to lay a tree out before :func:`graph` gives up.
GRAPHVIZ_TIMEOUT = 30.0
# The built-in layout, in SVG units: the narrowest box, the width of a character and the
# height of a line of text (at font size 11), the gaps between boxes, the picture's margin.
_MIN_BOX_WIDTH, _CHARACTER_WIDTH, _LINE_HEIGHT = 150, 7, 14
_GAP_ACROSS, _GAP_DOWN, _MARGIN = 20, 44, 20
# How Graphviz draws a box, to match the built-in layout.
_GRAPHVIZ_STYLE = (
    '    node [shape=box, style="rounded,filled", fillcolor="#eef2ff", color="#333344",'
    ' fontname="sans-serif", fontsize=11];',
    '    edge [color="#666677", arrowsize=0.6];',
)


class GraphvizNotFound(RuntimeError):
    """A PNG was asked for (or Graphviz required) and Graphviz's ``dot`` is not installed."""


class GraphvizFailed(RuntimeError):
    """Graphviz's ``dot`` exited with an error, or took longer than its timeout."""


@attrs.frozen
class GraphNode:
    """How :func:`graph` draws one component; a ``node`` function returns one per component.

    *label* is the text in the box (``"\\n"`` starts a new line); *id* becomes the box's
    ``id`` in SVG (for a page's script or style sheet to find it); *link* makes the box a
    link to that address; *tooltip* is shown when the pointer rests on the box.
    """

    label: str
    id: str | None = None
    link: str | None = None
    tooltip: str | None = None


def default_node(component: BaseComponent) -> GraphNode:
    """The look of a component when no ``node`` function is given: name and channel."""
    channel = component.channel if isinstance(component.channel, str) else repr(component.channel)
    return GraphNode(label=f"{component.name}\n{channel}", tooltip=repr(component))


@attrs.frozen
class _Box:
    """One component in the snapshot: its DOT name, its look, its children's indexes."""

    name: str
    look: GraphNode
    depth: int
    children: tuple[int, ...]


@overload
def graph(
    root: BaseComponent,
    format: Literal["text", "dot", "svg"] = "text",
    *,
    path: str | os.PathLike[str] | None = None,
    graphviz: bool | None = None,
    node: Callable[[BaseComponent], GraphNode] | None = None,
    graphviz_timeout: float = GRAPHVIZ_TIMEOUT,
) -> str: ...
@overload
def graph(
    root: BaseComponent,
    format: Literal["png"],
    *,
    path: str | os.PathLike[str] | None = None,
    graphviz: bool | None = None,
    node: Callable[[BaseComponent], GraphNode] | None = None,
    graphviz_timeout: float = GRAPHVIZ_TIMEOUT,
) -> bytes: ...
def graph(
    root: BaseComponent,
    format: Literal["text", "dot", "svg", "png"] = "text",
    *,
    path: str | os.PathLike[str] | None = None,
    graphviz: bool | None = None,
    node: Callable[[BaseComponent], GraphNode] | None = None,
    graphviz_timeout: float = GRAPHVIZ_TIMEOUT,
) -> str | bytes:
    """The tree under *root* in *format*; also written to *path* when given.

    ``"text"`` is indented lines, ``"dot"`` Graphviz's language, ``"svg"`` and
    ``"png"`` pictures (``bytes`` for PNG). *graphviz* ``None`` uses Graphviz when
    installed, ``False`` never (the built-in SVG), ``True`` requires it.

    *node*, called with each component, says how its box is drawn in DOT, SVG and PNG
    (see :class:`GraphNode`); without it a box shows the component's name and channel
    (in DOT, its name). Graphviz gets *graphviz_timeout* seconds (30 by default), then
    :class:`GraphvizFailed` is raised, as it is when ``dot`` fails.
    """
    drawing: str | bytes
    if format == "text":
        drawing = _text(root)
    elif format == "dot":
        drawing = _dot(_snapshot(root, node), declare=node is not None, styled=False)
    elif format in ("svg", "png"):
        dot = shutil.which("dot") if graphviz is not False else None
        if dot is None and (graphviz or format == "png"):
            raise GraphvizNotFound(
                f"{format.upper()} output needs Graphviz's dot program: install it"
                " (apt-get install graphviz), or ask for format='svg', which works without"
            )
        boxes = _snapshot(root, node)
        if dot is not None:
            source = _dot(boxes, declare=node is not None, styled=True)
            drawing = _run_graphviz(dot, source, format, graphviz_timeout)
        else:
            drawing = _svg(boxes)
    else:
        raise ValueError(_bad_format(format))
    if path is not None:
        if isinstance(drawing, bytes):
            with open(path, "wb") as file:
                file.write(drawing)
        else:
            with open(path, "w", encoding="utf-8") as file:
                file.write(drawing)
    return drawing


def _bad_format(format: object) -> str:
    """The message for an unknown *format*; circuits' ``graph(x, name)`` took a file name
    there, so a name ending in a format says how to write the file instead."""
    message = f"format must be 'text', 'dot', 'svg' or 'png', not {format!r}"
    suffix = os.path.splitext(format)[1].lstrip(".") if isinstance(format, str) else ""
    if suffix in ("dot", "svg", "png"):
        message += f": to write a file, graph(root, {suffix!r}, path={format!r})"
    return message


def _text(root: BaseComponent) -> str:
    """One component a line (its repr), indented by depth."""
    lines: list[str] = []

    def draw(component: BaseComponent, depth: int) -> None:
        lines.append(f"{' ' * depth}* {component!r}")
        for child in component.components:
            draw(child, depth + 1)

    draw(root, 0)
    return "\n".join(lines)


def _snapshot(
    root: BaseComponent, node: Callable[[BaseComponent], GraphNode] | None
) -> list[_Box]:
    """The tree under *root*, parents first (see the module's description)."""
    look = node or default_node
    boxes: list[_Box] = []

    def visit(component: BaseComponent, depth: int) -> int:
        index = len(boxes)
        boxes.append(_Box(f"{component.name}-{index}", look(component), depth, ()))
        children = tuple(visit(child, depth + 1) for child in tuple(component.components))
        boxes[index] = attrs.evolve(boxes[index], children=children)
        return index

    visit(root, 0)
    return boxes


def _dot_string(text: str) -> str:
    """*text* as a quoted DOT string; a new line becomes DOT's centred line break."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def _dot(boxes: list[_Box], *, declare: bool, styled: bool) -> str:
    """DOT: an edge a child (a lone root as itself); with *declare*, each box's look too;
    *styled* (for Graphviz's pictures) draws boxes like the built-in layout's."""
    lines = ["digraph G {"]
    if styled:
        lines.extend(_GRAPHVIZ_STYLE)
    if declare:
        for box in boxes:
            look = box.look
            link = look.link
            if styled and link is not None:
                # Graphviz copies a link into SVG as it is, bar what looks like an entity
                link = link.replace("&", "&amp;")
            fields = [("label", look.label), ("id", look.id), ("URL", link)]
            fields.append(("tooltip", look.tooltip))
            attributes = ", ".join(
                f"{name}={_dot_string(value)}" for name, value in fields if value is not None
            )
            lines.append(f"    {_dot_string(box.name)} [{attributes}];")
    edges = [
        f"    {_dot_string(box.name)} -> {_dot_string(boxes[child].name)};"
        for box in boxes
        for child in box.children
    ]
    if not edges and not declare:
        edges = [f"    {_dot_string(boxes[0].name)};"]
    return "\n".join([*lines, *edges, "}"])


def _run_graphviz(dot: str, source: str, format: str, timeout: float) -> str | bytes:
    try:
        result = subprocess.run(
            [dot, f"-T{format}"],
            input=source.encode(),
            capture_output=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise GraphvizFailed(
            f"Graphviz took longer than {timeout:g} s to lay the tree out:"
            " pass a larger graphviz_timeout, or graphviz=False for the built-in layout"
        ) from None
    if result.returncode != 0:
        stderr = result.stderr.decode(errors="replace").strip()
        raise GraphvizFailed(f"Graphviz failed: {stderr}")
    return result.stdout.decode() if format == "svg" else result.stdout


def _svg(boxes: list[_Box]) -> str:
    """A tree picture without Graphviz: rows by depth, parents over their children.

    Every box has the size of the largest label, so columns and rows stay even.
    """
    labels = [box.look.label.split("\n") for box in boxes]
    box_width = max(
        _MIN_BOX_WIDTH, max(len(line) for lines in labels for line in lines) * _CHARACTER_WIDTH
    )
    box_height = max(len(lines) for lines in labels) * _LINE_HEIGHT + 10
    column, row = box_width + _GAP_ACROSS, box_height + _GAP_DOWN
    places: list[float] = [0.0] * len(boxes)
    next_leaf = 0

    def place(index: int) -> float:
        nonlocal next_leaf
        children = boxes[index].children
        if children:
            xs = [place(child) for child in children]
            x = (xs[0] + xs[-1]) / 2
        else:
            x = float(next_leaf)
            next_leaf += 1
        places[index] = x
        return x

    place(0)

    def centre(index: int) -> tuple[float, float]:
        x, depth = places[index], boxes[index].depth
        return _MARGIN + x * column + box_width / 2, _MARGIN + depth * row + box_height / 2

    width = _MARGIN * 2 + (next_leaf - 1) * column + box_width
    height = _MARGIN * 2 + max(box.depth for box in boxes) * row + box_height
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}pt" height="{height}pt"'
        f' viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="11">'
    ]
    for index, box in enumerate(boxes):
        x1, y1 = centre(index)
        for child in box.children:
            x2, y2 = centre(child)
            parts.append(
                f'<line x1="{x1:g}" y1="{y1 + box_height / 2:g}" x2="{x2:g}"'
                f' y2="{y2 - box_height / 2:g}" stroke="#667"/>'
            )
    for index, box in enumerate(boxes):
        x, y = centre(index)
        look, lines = box.look, labels[index]
        top = y - _LINE_HEIGHT * (len(lines) - 1) / 2 + 4
        shape = (
            f'<rect x="{x - box_width / 2:g}" y="{y - box_height / 2:g}" width="{box_width}"'
            f' height="{box_height}" rx="6" fill="#eef2ff" stroke="#334"/>'
        ) + "".join(
            f'<text x="{x:g}" y="{top + _LINE_HEIGHT * number:g}" text-anchor="middle">'
            f"{html.escape(line)}</text>"
            for number, line in enumerate(lines)
        )
        if look.link is not None:
            shape = f'<a href="{html.escape(look.link)}">{shape}</a>'
        key = f' id="{html.escape(look.id)}"' if look.id is not None else ""
        title = look.tooltip if look.tooltip is not None else lines[0]
        parts.append(f'<g{key} class="node"><title>{html.escape(title)}</title>{shape}</g>')
    parts.append("</svg>")
    return "\n".join(parts) + "\n"
