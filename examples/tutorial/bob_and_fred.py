"""Bob and Fred: two components put together with ``+``.

``Bob() + Fred()`` registers Fred under Bob and gives back Bob, the root of a tree
of two. When the tree starts, every ``started`` handler in it runs, in the order the
components were created, so Bob speaks first.

A real application would keep running until Ctrl+C. To end by itself, this demo
adds a :class:`~relays.Timer` that fires a ``quit`` event a tenth of a second after
start-up, and Bob stops the tree when he hears it::

    $ python examples/tutorial/bob_and_fred.py
    Hello I'm Bob!
    Hello I'm Fred!
"""

from relays import BaseComponent, Component, Event, Timer


class Quit(Event):
    """Time for the demo to end."""


class Bob(Component):
    def started(self, component: BaseComponent) -> None:
        print("Hello I'm Bob!")

    def quit(self) -> None:
        self.stop()


class Fred(Component):
    def started(self, component: BaseComponent) -> None:
        print("Hello I'm Fred!")


if __name__ == "__main__":
    app = Bob() + Fred()
    app += Timer(0.1, Quit())
    app.run()
