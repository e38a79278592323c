"""Hook implementations: thin, importing what they serve only when asked."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from relays import BaseComponent, Component, Config, Provided
from relays.hookspecs import hookimpl, hookspec
from relays.transports import Transport


class Hello(Component):
    """A dispatcher that answers ``hello(name)`` with a greeting."""

    def __init__(self, *, greeting: str = "Hello", channel: Any = "hello") -> None:
        super().__init__(channel=channel)
        self.greeting = greeting

    def hello(self, name: str) -> str:
        return f"{self.greeting}, {name}!"


@hookimpl
def relays_transport(scheme: str) -> Transport | None:
    if scheme != "loop":
        return None
    from relays.testing import MemoryTransport

    return Transport("loop", server=MemoryTransport)


@hookimpl
def relays_dispatcher(name: str) -> Callable[..., BaseComponent] | None:
    return Hello if name == "hello" else None


class ExampleSpecs:
    """A hook spec of this plugin's own, for others to implement."""

    @hookspec(firstresult=True)
    def relays_example_greeting(self, name: str) -> str | None:
        """Return a greeting for *name*, or ``None`` to let another plugin answer."""


@hookimpl
def relays_add_hookspecs(plugin_manager: Any) -> None:
    plugin_manager.add_hookspecs(ExampleSpecs)


@hookimpl
def relays_example_greeting(name: str) -> str | None:
    return f"Greetings, {name}" if name else None


@hookimpl
def relays_provides() -> list[Provided]:
    return [Provided("transport", "loop"), Provided("dispatcher", "hello")]


@hookimpl
def relays_add_commands(commands: Any) -> None:
    parser = commands.add_parser("hello", help="greet someone")
    parser.add_argument("who")
    parser.set_defaults(handler=_hello_command)


@hookimpl
def relays_add_options(command: str, parser: Any) -> None:
    if command == "run":
        parser.add_argument("--example-flag", action="store_true", help="added by a plugin")


@hookimpl
def relays_configure(config: Config) -> None:
    CONFIGURED.append(config.command)


CONFIGURED: list[str] = []


def _hello_command(config: Config) -> int:
    print(Hello().hello(config.options.who))
    return 0
