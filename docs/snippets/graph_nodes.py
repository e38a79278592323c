"""A look per component in relays.graph(): a label, an id and a link for each box."""

from __future__ import annotations

from relays import BaseComponent, Component, GraphNode, graph


class Kitchen(Component):
    def order(self, dish: str) -> None: ...


class Oven(Component):
    channel = "oven"

    def bake(self, dish: str) -> None: ...


def look(component: BaseComponent) -> GraphNode:
    """Name and channel as the label; an id a page's script can find; a link per box."""
    slug = component.name.lower()
    return GraphNode(
        label=f"{component.name}\nchannel: {component.channel}",
        id=f"box-{slug}",
        link=f"/components/{slug}",
    )


app = Kitchen() + Oven()
print(graph(app, "dot", node=look))
svg = graph(app, "svg", node=look, graphviz=False)  # the built-in layout: no Graphviz needed
print('<g id="box-oven" class="node">' in svg, '<a href="/components/oven">' in svg)
