"""Looking at a tree: ``inspect`` lists what handles what (``graph`` in ``_graph`` draws it)."""

from __future__ import annotations

from ._components import BaseComponent

__all__ = ["inspect"]


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
