"""A plugin for examples/circuits/plugin_app.py that names its component factory."""

from relays import Component


class Shout(Component):
    def __init__(self, *, channel: str = "*", times: int = 1) -> None:
        super().__init__(channel=channel)
        self.times = times

    def greet(self, name: str) -> str:
        return "HEY " * self.times + name.upper() + "!"


def component(channel: str = "*") -> Shout:
    """The Loader calls this (the module says which component it offers, and how)."""
    return Shout(channel=channel, times=2)
