"""The components of relays-greeter: a dispatcher that greets and a protocol that shouts."""

from __future__ import annotations

from typing import Any

from relays import BaseComponent, Component, handler


class Greeter(Component):
    """Answers ``hello(name)`` on its channel with a greeting."""

    def __init__(self, *, greeting: str = "Hello", channel: Any = "greeter") -> None:
        super().__init__(channel=channel)
        self.greeting = greeting

    def hello(self, name: str) -> str:
        return f"{self.greeting}, {name}!"


class Shout(BaseComponent):
    """Answers every ``read`` of a connection with the same bytes in capitals.

    A protocol listens on the channel of its transport, which it is given as ``channel=``.
    """

    def __init__(self, *, channel: Any) -> None:
        super().__init__(channel=channel)

    @handler("read")
    def _read(self, sock: Any, data: bytes) -> None:
        sock.write(data.upper())
