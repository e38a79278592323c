"""Looking at a tree: ``graph`` draws it, ``inspect`` lists what handles what."""

from __future__ import annotations

from typing import Literal

from ._components import BaseComponent

__all__ = ["graph", "inspect"]


def graph(root: BaseComponent, format: Literal["text", "dot"] = "text") -> str:
    """The tree under *root*: indented text (one component a line), or Graphviz DOT."""
    if format == "text":
        lines: list[str] = []

        def draw(node: BaseComponent, depth: int) -> None:
            lines.append(f"{' ' * depth}* {node!r}")
            for child in node.components:
                draw(child, depth + 1)

        draw(root, 0)
        return "\n".join(lines)
    if format == "dot":
        names: dict[int, str] = {}

        def label(node: BaseComponent) -> str:
            if id(node) not in names:
                names[id(node)] = f"{node.name}-{len(names)}"
            return names[id(node)]

        edges = [
            f'    "{label(node)}" -> "{label(child)}";'
            for node in root.walk()
            for child in node.components
        ]
        if not edges:
            edges = [f'    "{label(root)}";']
        return "digraph G {\n" + "\n".join(edges) + "\n}"
    raise ValueError(f"format must be 'text' or 'dot', not {format!r}")


def inspect(component: BaseComponent) -> str:
    """A table of the handlers owned by *component* and its subtree, in run order."""
    owned = set(component.walk())
    handlers = sorted(
        (h for h in component._hub.handlers if h.owner in owned),
        key=lambda h: (h.name, -h.priority, h.seq),
    )
    rows = [("event", "channel", "priority", "handler")]
    for h in handlers:
        channel = h.channel if h.channel is not None else h.owner.channel
        channel_text = channel if isinstance(channel, str) else repr(channel)
        rows.append((h.name, channel_text, str(h.priority), h.qualname))
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    lines = [f"Handlers of {component!r}:"]
    for row in rows:
        lines.append(
            "  "
            + "  ".join(
                cell.ljust(width) for cell, width in zip(row, widths, strict=False)
            ).rstrip()
        )
    return "\n".join(lines)
