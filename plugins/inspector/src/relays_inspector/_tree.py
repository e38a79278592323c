"""The tree as a picture and a component's handler table, from public kernel API.

Each component is named in the picture by a key (``c`` and its ``id()``), which the
page sends back when a box is clicked; :func:`find_component` looks the key up in the
tree as it is then, so a component that has left since is a clean "not found".

The picture is :func:`relays.graph`'s SVG (Graphviz's layout when installed, else the
kernel's own), with a look per component: its key as the box's ``id``, and its name,
channel and handler count as the label. The handler counts are taken on the event loop
(:func:`describe_tree`); the drawing, which may wait on Graphviz, runs in a thread and
reads only the tree's shape.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import attrs

from relays import BaseComponent, GraphNode, GraphvizFailed, GraphvizNotFound, Handler, graph

__all__ = [
    "GRAPHVIZ_TIMEOUT",
    "HandlerRow",
    "describe_tree",
    "draw_tree",
    "find_component",
    "handler_rows",
]

#: Seconds Graphviz may take to lay a tree out before the built-in layout is used.
GRAPHVIZ_TIMEOUT = 10.0


def channel_label(channel: Any) -> str:
    """A channel as people read it: strings as they are, others by name or repr."""
    if isinstance(channel, str):
        return channel
    return str(getattr(channel, "name", None) or repr(channel))


def component_key(component: BaseComponent) -> str:
    """The key the page uses for *component* (see the module's description)."""
    return f"c{id(component)}"


def _plural(count: int) -> str:
    return f"{count} handler" + ("" if count == 1 else "s")


def _look(component: BaseComponent, handlers: int | None) -> GraphNode:
    lines = [component.name, f"channel: {channel_label(component.channel)}"]
    if handlers is not None:
        lines.append(_plural(handlers))
    return GraphNode(label="\n".join(lines), id=component_key(component), tooltip=component.name)


def describe_tree(root: BaseComponent) -> dict[int, GraphNode]:
    """The look of every component under *root* (by ``id()``), with its own handler count.

    Call it on the event loop: it reads the handler table, which the loop owns.
    """
    counts = Counter(id(h.owner) for h in root.handlers())
    return {id(node): _look(node, counts[id(node)]) for node in root.walk()}


def find_component(root: BaseComponent, key: str) -> BaseComponent | None:
    """The component of *root*'s tree whose key is *key*, or None."""
    for node in root.walk():
        if component_key(node) == key:
            return node
    return None


def draw_tree(
    root: BaseComponent, looks: dict[int, GraphNode], *, graphviz: bool | None = None
) -> str:
    """SVG of the tree under *root*, each box drawn as *looks* says (see :func:`describe_tree`).

    Blocks while ``dot`` runs: call it in a thread from the event loop. A Graphviz that
    fails or takes longer than :data:`GRAPHVIZ_TIMEOUT` gives way to the built-in layout,
    since a picture of some kind beats an error page here. A component that joined after
    *looks* was taken is drawn without its handler count.
    """

    def look(component: BaseComponent) -> GraphNode:
        return looks.get(id(component)) or _look(component, None)

    try:
        svg = graph(root, "svg", node=look, graphviz=graphviz, graphviz_timeout=GRAPHVIZ_TIMEOUT)
    except (GraphvizFailed, GraphvizNotFound):
        svg = graph(root, "svg", node=look, graphviz=False)
    start = svg.find("<svg")  # drop Graphviz's XML declaration and DOCTYPE: it is inlined
    return svg[start:] if start >= 0 else svg


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
