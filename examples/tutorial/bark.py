"""Events of your own: each dog fires ``Bark`` on its own channel.

``fire`` without channels uses the firing component's channel, so when Bob fires
``Bark()`` it travels on ``"bob"`` and only Bob's ``bark`` handler answers it; the same
goes for Fred on ``"fred"``. Each dog barks exactly once.

The Pound's ``started`` handler runs first (the Pound was created first) and asks the
tree to stop; the dogs' ``started`` handlers still run, and the barks they queue are
dispatched before the tree stops. A real application would keep running until Ctrl+C.
"""

from relays import BaseComponent, Component, Event


class Bark(Event):
    """A dog barks."""


class Dog(Component):
    def started(self, component: BaseComponent) -> None:
        self.fire(Bark())

    def bark(self) -> None:
        print(f"Woof! I'm {self.name}!")


class Bob(Dog):
    channel = "bob"


class Fred(Dog):
    channel = "fred"


class Pound(Component):
    def __init__(self) -> None:
        super().__init__()
        self.bob = Bob().register(self)
        self.fred = Fred().register(self)

    def started(self, component: BaseComponent) -> None:
        self.stop()


if __name__ == "__main__":
    Pound().run()
