"""A plugin application: the Loader imports plugin modules by name, at run time.

The plugins live in ``examples/circuits/plugins/``; each module offers one
component. ``load`` events bring them in while the application runs, and each
plugin answers the ``greet`` event in its own way. Try::

    python examples/circuits/plugin_app.py hello shout

which loads ``plugins/hello.py`` and ``plugins/shout.py``, greets once and stops.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

from relays import Component, Event, Load, Loader

PLUGINS = Path(__file__).resolve().parent / "plugins"


class Greet(Event):
    """``greet(name)``: every loaded plugin answers with a greeting."""


class PluginApp(Component):
    def __init__(self, names: Sequence[str]) -> None:
        super().__init__()
        self.names = list(names)
        self.greetings: list[str] = []
        self.loader = Loader([PLUGINS], init_kwargs={"channel": "*"}).register(self)

    async def started(self, component: Component) -> None:
        for name in self.names:
            await self.call(Load(name), self.loader)
        # Every plugin handles greet; the event's value gathers their answers.
        answers = await self.call(Greet("world"), "*")
        self.greetings = answers if isinstance(answers, list) else [answers]
        for greeting in self.greetings:
            print(greeting)
        self.stop()


if __name__ == "__main__":
    PluginApp(sys.argv[1:] or ["hello"]).run()
