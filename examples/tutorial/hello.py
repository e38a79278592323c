"""Hello World: the smallest relays program that does something.

A :class:`~relays.Component` turns each of its public methods into a handler for the
event of the same name. ``started`` is fired once the tree is running, so this
component greets the world at start-up.

A relays program runs until something stops it; a real application would keep
running until Ctrl+C. This one calls ``self.stop()`` once it has said hello, so it
ends by itself::

    $ python examples/tutorial/hello.py
    Hello World!
"""

from relays import BaseComponent, Component


class App(Component):
    def started(self, component: BaseComponent) -> None:
        print("Hello World!")
        self.stop()


if __name__ == "__main__":
    App().run()
