"""Drawing a tree: as text, Graphviz DOT, SVG or PNG.

Text and DOT are written here (see :mod:`relays._tools`). SVG and PNG come from
Graphviz's ``dot`` program when it is installed; without it, SVG is drawn by a small
layout of our own (one row per depth, leaves spread evenly, each parent centred over
its children), so ``graph(app, "svg")`` always works, and PNG, which needs a
rasteriser, raises :class:`GraphvizNotFound` saying what to install.
"""

from __future__ import annotations

import html
import os
import shutil
import subprocess
from typing import Literal, overload

from ._components import BaseComponent
from ._tools import graph as _text_or_dot

__all__ = ["GRAPHVIZ_TIMEOUT", "GraphvizNotFound", "graph"]

#: Seconds Graphviz may take to lay a tree out before :func:`graph` gives up.
GRAPHVIZ_TIMEOUT = 30.0
_BOX_WIDTH, _BOX_HEIGHT, _COLUMN, _ROW, _MARGIN = 150, 36, 170, 80, 20


class GraphvizNotFound(RuntimeError):
    """A PNG was asked for and Graphviz's ``dot`` is not installed."""


@overload
def graph(
    root: BaseComponent,
    format: Literal["text", "dot", "svg"] = "text",
    *,
    path: str | os.PathLike[str] | None = None,
    graphviz: bool | None = None,
) -> str: ...
@overload
def graph(
    root: BaseComponent,
    format: Literal["png"],
    *,
    path: str | os.PathLike[str] | None = None,
    graphviz: bool | None = None,
) -> bytes: ...
def graph(
    root: BaseComponent,
    format: Literal["text", "dot", "svg", "png"] = "text",
    *,
    path: str | os.PathLike[str] | None = None,
    graphviz: bool | None = None,
) -> str | bytes:
    """The tree under *root* in *format*; also written to *path* when given.

    ``"text"`` is indented lines, ``"dot"`` Graphviz's language, ``"svg"`` and
    ``"png"`` pictures (``bytes`` for PNG). *graphviz* ``None`` uses Graphviz when
    installed, ``False`` never (the built-in SVG), ``True`` requires it.
    """
    drawing: str | bytes
    if format in ("text", "dot"):
        drawing = _text_or_dot(root, format=format)
    elif format in ("svg", "png"):
        dot = shutil.which("dot") if graphviz is not False else None
        if dot is None and (graphviz or format == "png"):
            raise GraphvizNotFound(
                f"{format.upper()} output needs Graphviz's dot program: install it"
                " (apt-get install graphviz), or ask for format='svg', which works without"
            )
        if dot is not None:
            drawing = _run_graphviz(dot, _text_or_dot(root, format="dot"), format)
        else:
            drawing = _svg(root)
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


def _run_graphviz(dot: str, source: str, format: str) -> str | bytes:
    result = subprocess.run(
        [dot, f"-T{format}"],
        input=source.encode(),
        capture_output=True,
        timeout=GRAPHVIZ_TIMEOUT,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"Graphviz failed: {result.stderr.decode(errors='replace').strip()}")
    return result.stdout.decode() if format == "svg" else result.stdout


def _svg(root: BaseComponent) -> str:
    """A tree picture without Graphviz: rows by depth, parents over their children."""
    places: dict[int, tuple[float, int]] = {}
    next_leaf = 0

    def place(node: BaseComponent, depth: int) -> float:
        nonlocal next_leaf
        if node.components:
            xs = [place(child, depth + 1) for child in node.components]
            x = (xs[0] + xs[-1]) / 2
        else:
            x = float(next_leaf)
            next_leaf += 1
        places[id(node)] = (x, depth)
        return x

    place(root, 0)
    nodes = list(root.walk())
    depth = max(row for _, row in places.values())

    def centre(node: BaseComponent) -> tuple[float, float]:
        x, row = places[id(node)]
        return _MARGIN + x * _COLUMN + _BOX_WIDTH / 2, _MARGIN + row * _ROW + _BOX_HEIGHT / 2

    width = _MARGIN * 2 + (next_leaf - 1) * _COLUMN + _BOX_WIDTH
    height = _MARGIN * 2 + depth * _ROW + _BOX_HEIGHT
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}"'
        f' viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="12">'
    ]
    for node in nodes:
        x1, y1 = centre(node)
        for child in node.components:
            x2, y2 = centre(child)
            parts.append(
                f'<line x1="{x1:g}" y1="{y1 + _BOX_HEIGHT / 2:g}" x2="{x2:g}"'
                f' y2="{y2 - _BOX_HEIGHT / 2:g}" stroke="#555"/>'
            )
    for node in nodes:
        x, y = centre(node)
        channel = node.channel if isinstance(node.channel, str) else repr(node.channel)
        parts.append(
            f"<g><title>{html.escape(repr(node))}</title>"
            f'<rect x="{x - _BOX_WIDTH / 2:g}" y="{y - _BOX_HEIGHT / 2:g}" width="{_BOX_WIDTH}"'
            f' height="{_BOX_HEIGHT}" rx="6" fill="#eef" stroke="#335"/>'
            f'<text x="{x:g}" y="{y - 2:g}" text-anchor="middle">{html.escape(node.name)}</text>'
            f'<text x="{x:g}" y="{y + 12:g}" text-anchor="middle" fill="#555">'
            f"{html.escape(channel)}</text></g>"
        )
    parts.append("</svg>")
    return "\n".join(parts) + "\n"
