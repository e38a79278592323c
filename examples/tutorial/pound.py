"""A component made of components: the Pound holds Bob and Fred.

A component can build its own subtree when it is created: ``register`` attaches a
component under a parent and returns it, so the parent can keep a reference.
:func:`~relays.graph` draws the tree, one component a line; each line shows the
component's name and channel, the process id and thread, and how many handlers it
and its children have.

The Pound was created first, so its ``started`` handler runs before Bob's and
Fred's. ``self.stop()`` only asks the tree to stop: the handlers of the event being
dispatched still run, so both dogs get to say hello. A real application would keep
running until Ctrl+C.
"""

from relays import BaseComponent, Component, graph


class Bob(Component):
    def started(self, component: BaseComponent) -> None:
        print("Hello I'm Bob!")


class Fred(Component):
    def started(self, component: BaseComponent) -> None:
        print("Hello I'm Fred!")


class Pound(Component):
    def __init__(self) -> None:
        super().__init__()
        self.bob = Bob().register(self)
        self.fred = Fred().register(self)

    def started(self, component: BaseComponent) -> None:
        print(graph(self.root))
        self.stop()


if __name__ == "__main__":
    Pound().run()
