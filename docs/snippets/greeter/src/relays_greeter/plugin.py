"""Hook implementations of relays-greeter: thin, imports only when asked."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from relays import BaseComponent, Config, Provided
from relays.hookspecs import hookimpl
from relays.transports import Transport


@hookimpl
def relays_dispatcher(name: str) -> Callable[..., BaseComponent] | None:
    if name != "greeter":
        return None
    from ._greeter import Greeter  # imported only once somebody asks for it

    return Greeter


@hookimpl
def relays_protocol(name: str) -> Callable[..., BaseComponent] | None:
    if name != "shout":
        return None
    from ._greeter import Shout

    return Shout  # called with channel= (the transport's channel), and keywords only


@hookimpl
def relays_transport(scheme: str) -> Transport | None:
    if scheme != "loop":
        return None
    from relays.testing import MemoryTransport

    return Transport("loop", server=MemoryTransport)


@hookimpl
def relays_provides() -> list[Provided]:
    return [
        Provided("dispatcher", "greeter", "answers hello(name)"),
        Provided("protocol", "shout"),
        Provided("transport", "loop"),
    ]


@hookimpl
def relays_add_commands(commands: Any) -> None:
    parser = commands.add_parser("greet", help="greet someone")
    parser.add_argument("who")
    parser.set_defaults(handler=_greet)


def _greet(config: Config) -> int:
    print(f"Hello, {config.options.who}!")
    return 0
