"""The Debugger: see every event, and the error nobody would otherwise notice.

``bark`` below misspells ``self.name`` as ``name``, so it raises :class:`NameError`
each time it runs. A handler's error never stops the application: the kernel turns
it into an ``exception`` event and goes on dispatching. Without a handler for that
event, the kernel logs it once; with ``+ Debugger()`` in the tree you see every event
as it is dispatched, and each error with its traceback, on stderr.

To show that the application keeps going after the errors, a :class:`~relays.Timer`
fires ``quit`` a tenth of a second later, and the Pound stops the tree then. A real
application would keep running until Ctrl+C.
"""

# ruff: noqa: F821  (the undefined ``name`` in ``bark`` is the bug on show)

from relays import BaseComponent, Component, Debugger, Event, Timer


class Bark(Event):
    """A dog barks."""


class Quit(Event):
    """Time for the demo to end."""


class Dog(Component):
    def started(self, component: BaseComponent) -> None:
        self.fire(Bark())

    def bark(self) -> None:
        print(f"Woof! I'm {name}!")


class Bob(Dog):
    channel = "bob"


class Fred(Dog):
    channel = "fred"


class Pound(Component):
    def __init__(self) -> None:
        super().__init__()
        self.bob = Bob().register(self)
        self.fred = Fred().register(self)
        Timer(0.1, Quit()).register(self)

    def quit(self) -> None:
        print("Still running after the errors; stopping now.")
        self.stop()


if __name__ == "__main__":
    (Pound() + Debugger()).run()
