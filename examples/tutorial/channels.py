"""Channels: fire an event at one dog only.

Each dog now listens on its own channel, ``"bob"`` or ``"fred"``: a handler only runs
for events fired on its component's channel. Firing ``Woof`` on ``"bob"`` wakes Bob
and leaves Fred asleep. (``self.fire(Woof(), self.bob)``, aiming at the component
itself, would do the same.)

The Pound keeps the default channel ``"*"``, which hears every channel; that is why
it still sees ``started``, which the kernel fires on ``"*"``. A real application would
keep running until Ctrl+C; this one stops after the bark.
"""

from relays import BaseComponent, Component, Event


class Woof(Event):
    """Make a dog bark."""


class Dog(Component):
    def woof(self) -> None:
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
        self.fire(Woof(), "bob")
        self.stop()


if __name__ == "__main__":
    Pound().run()
