"""The tree as a picture and a component's handler table, from public kernel API.

Each component is named in the picture by a key (``c`` and its ``id()``), which the
page sends back when a box is clicked; :func:`find_component` looks the key up in the
tree as it is then, so a component that has left since is a clean "not found".

The picture is drawn by Graphviz's ``dot`` when it is installed (a better layout for
wide trees), and otherwise by a small layout of our own (rows by depth, leaves spread
evenly, parents centred over their children). Both give every box the same ``id``
and the ``node`` class, so the page treats them alike.
"""

from __future__ import annotations

import html
import shutil
import subprocess
from collections import Counter
from typing import Any

import attrs

from relays import BaseComponent, Handler

__all__ = [
    "GRAPHVIZ_TIMEOUT",
    "HandlerRow",
    "NodeInfo",
    "describe_tree",
    "draw_tree",
    "find_component",
    "handler_rows",
    "tree_dot",
    "tree_svg",
]

#: Seconds Graphviz may take to lay a tree out before the built-in layout is used.
GRAPHVIZ_TIMEOUT = 10.0
_BOX_WIDTH, _BOX_HEIGHT, _COLUMN, _ROW, _MARGIN = 170, 52, 190, 90, 20


def channel_label(channel: Any) -> str:
    """A channel as people read it: strings as they are, others by name or repr."""
    if isinstance(channel, str):
        return channel
    return str(getattr(channel, "name", None) or repr(channel))


def component_key(component: BaseComponent) -> str:
    """The key the page uses for *component* (see the module's description)."""
    return f"c{id(component)}"


@attrs.frozen
class NodeInfo:
    """One box of the picture: the component's key, name, channel and handler count."""

    key: str
    name: str
    channel: str
    handlers: int
    children: tuple[str, ...]


def describe_tree(root: BaseComponent) -> list[NodeInfo]:
    """Every component under *root*, parents first, with its own handler count."""
    counts = Counter(id(h.owner) for h in root.handlers())
    return [
        NodeInfo(
            key=component_key(node),
            name=node.name,
            channel=channel_label(node.channel),
            handlers=counts[id(node)],
            children=tuple(component_key(child) for child in node.components),
        )
        for node in root.walk()
    ]


def find_component(root: BaseComponent, key: str) -> BaseComponent | None:
    """The component of *root*'s tree whose key is *key*, or None."""
    for node in root.walk():
        if component_key(node) == key:
            return node
    return None


def _plural(count: int) -> str:
    return f"{count} handler" + ("" if count == 1 else "s")


def _dot_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ") + '"'


def tree_dot(nodes: list[NodeInfo]) -> str:
    """Graphviz DOT for *nodes*: boxes with name, channel and handler count."""
    lines = [
        "digraph relays {",
        '  graph [bgcolor="transparent", rankdir=TB, nodesep=0.3, ranksep=0.45];',
        '  node [shape=box, style="rounded,filled", fillcolor="#eef2ff", color="#334",'
        ' fontname="sans-serif", fontsize=11];',
        '  edge [color="#667", arrowsize=0.6];',
    ]
    for node in nodes:
        label = f"{node.name}\\nchannel: {node.channel}\\n{_plural(node.handlers)}"
        # the label's own "\n" are DOT line breaks; the texts inside are escaped first
        label = "\\n".join(_dot_string(part)[1:-1] for part in label.split("\\n"))
        lines.append(
            f'  {node.key} [id={node.key}, label="{label}", tooltip={_dot_string(node.name)}];'
        )
    for node in nodes:
        for child in node.children:
            lines.append(f"  {node.key} -> {child};")
    lines.append("}")
    return "\n".join(lines) + "\n"


def tree_svg(nodes: list[NodeInfo]) -> str:
    """The built-in layout of *nodes* as SVG: rows by depth, parents over children."""
    by_key = {node.key: node for node in nodes}
    places: dict[str, tuple[float, int]] = {}
    next_leaf = 0

    def place(key: str, depth: int) -> float:
        nonlocal next_leaf
        children = by_key[key].children
        if children:
            xs = [place(child, depth + 1) for child in children]
            x = (xs[0] + xs[-1]) / 2
        else:
            x = float(next_leaf)
            next_leaf += 1
        places[key] = (x, depth)
        return x

    place(nodes[0].key, 0)
    depth = max(row for _, row in places.values())

    def centre(key: str) -> tuple[float, float]:
        x, row = places[key]
        return _MARGIN + x * _COLUMN + _BOX_WIDTH / 2, _MARGIN + row * _ROW + _BOX_HEIGHT / 2

    width = _MARGIN * 2 + (next_leaf - 1) * _COLUMN + _BOX_WIDTH
    height = _MARGIN * 2 + depth * _ROW + _BOX_HEIGHT
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}pt" height="{height}pt"'
        f' viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="11">'
    ]
    for node in nodes:
        x1, y1 = centre(node.key)
        for child in node.children:
            x2, y2 = centre(child)
            parts.append(
                f'<line x1="{x1:g}" y1="{y1 + _BOX_HEIGHT / 2:g}" x2="{x2:g}"'
                f' y2="{y2 - _BOX_HEIGHT / 2:g}" stroke="#667"/>'
            )
    for node in nodes:
        x, y = centre(node.key)
        lines = (node.name, f"channel: {node.channel}", _plural(node.handlers))
        texts = "".join(
            f'<text x="{x:g}" y="{y - 16 + 14 * index + 4:g}" text-anchor="middle">'
            f"{html.escape(text)}</text>"
            for index, text in enumerate(lines)
        )
        parts.append(
            f'<g id="{node.key}" class="node"><title>{html.escape(node.name)}</title>'
            f'<rect x="{x - _BOX_WIDTH / 2:g}" y="{y - _BOX_HEIGHT / 2:g}" width="{_BOX_WIDTH}"'
            f' height="{_BOX_HEIGHT}" rx="6" fill="#eef2ff" stroke="#334"/>{texts}</g>'
        )
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


def draw_tree(nodes: list[NodeInfo], *, graphviz: bool | None = None) -> str:
    """SVG of *nodes*: Graphviz's when installed (and *graphviz* is not False), else ours.

    Blocks while ``dot`` runs: call it in a thread from the event loop. A Graphviz that
    fails or takes longer than :data:`GRAPHVIZ_TIMEOUT` falls back to the built-in layout,
    since a picture of some kind beats an error page here.
    """
    dot = shutil.which("dot") if graphviz is not False else None
    if dot is not None:
        try:
            result = subprocess.run(
                [dot, "-Tsvg"],
                input=tree_dot(nodes).encode(),
                capture_output=True,
                timeout=GRAPHVIZ_TIMEOUT,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired):
            result = None
        if result is not None and result.returncode == 0:
            svg = result.stdout.decode("utf-8", "replace")
            start = svg.find("<svg")  # drop the XML declaration and DOCTYPE: it is inlined
            return svg[start:] if start >= 0 else svg
    return tree_svg(nodes)


@attrs.frozen
class HandlerRow:
    """One line of a component's handler table, in the order the handlers run."""

    event: str
    channel: str
    priority: int
    handler: str
    owner: str

    @classmethod
    def of(cls, handler: Handler) -> HandlerRow:
        channel = handler.channel if handler.channel is not None else handler.owner.channel
        return cls(
            event=handler.name,
            channel=channel_label(channel),
            priority=handler.priority,
            handler=handler.qualname,
            owner=handler.owner.name,
        )


def handler_rows(component: BaseComponent) -> list[HandlerRow]:
    """The handlers of *component* and its subtree, as :func:`relays.inspect` lists them:
    by event name, then highest priority first, then registration order."""
    owned = {id(node) for node in component.walk()}
    handlers = sorted(
        (h for h in component.root.handlers() if id(h.owner) in owned),
        key=lambda h: (h.name, -h.priority, h.seq),
    )
    return [HandlerRow.of(h) for h in handlers]
