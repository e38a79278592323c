"""Inheritance: Bob and Fred are both Dogs, and both answer ``woof``.

Handlers are inherited like any method: ``Dog.woof`` handles the ``woof`` event for
every subclass. An event is declared as a subclass of :class:`~relays.Event`; its
name comes from the class name, so ``Woof`` is the ``woof`` event.

The Pound fires one ``Woof`` when the tree starts. Nobody set a channel, so every
component listens everywhere, and both dogs bark. The Pound then asks the tree to
stop: an event already queued is still dispatched before the tree stops. A real
application would keep running until Ctrl+C.
"""

from relays import BaseComponent, Component, Event


class Woof(Event):
    """Make the dogs bark."""


class Dog(Component):
    def woof(self) -> None:
        print(f"Woof! I'm {self.name}!")


class Bob(Dog):
    """Bob."""


class Fred(Dog):
    """Fred."""


class Pound(Component):
    def __init__(self) -> None:
        super().__init__()
        self.bob = Bob().register(self)
        self.fred = Fred().register(self)

    def started(self, component: BaseComponent) -> None:
        self.fire(Woof())
        self.stop()


if __name__ == "__main__":
    Pound().run()
