"""``relays serve --inspect`` (and ``relays demo --inspect``), through hooks.

The ``serve`` command belongs to relays-http; we extend it as any plugin may:
``relays_add_options`` adds the options, ``relays_configure`` makes the token once in
the parent process (so every ``--workers`` fork opens with the same link), and
``relays_app_created`` registers an :class:`~relays_inspector.Inspector` into the
server the command built, which prints the link when the server listens.
"""

from __future__ import annotations

import argparse
import ipaddress

from relays import BaseComponent, Config

from ._access import new_token
from ._inspector import DEFAULT_PATH, Inspector

__all__ = ["add_options", "app_created", "configure", "parse_network"]


def parse_network(text: str) -> str:
    """``"10.0.0.0/8"``, ``"192.168.1.20"``, ``"::1"`` or ``"*"``, checked."""
    if text == "*":
        return text
    try:
        ipaddress.ip_network(text, strict=False)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a network (10.0.0.0/8), an address or '*', got {text!r}"
        ) from None
    return text


def add_options(parser: argparse.ArgumentParser) -> None:
    """Add the inspector's options to the command."""
    group = parser.add_argument_group("live inspector (relays-inspector)")
    group.add_argument(
        "--inspect",
        action="store_true",
        default=False,
        help=f"serve a read-only live view of the app at {DEFAULT_PATH}/ (local peers, token)",
    )
    group.add_argument(
        "--inspect-allow",
        action="append",
        type=parse_network,
        default=None,
        metavar="NETWORK",
        help="also let peers of NETWORK open the inspector (repeatable; default: loopback only)",
    )


def configure(config: Config) -> None:
    """Make the token once, before any worker forks."""
    options = config.options
    if getattr(options, "inspect_token", None) is None:
        options.inspect_token = new_token()


def app_created(app: BaseComponent, config: Config) -> None:
    """Register an :class:`Inspector` into the server the command built."""
    options = config.options
    allow = ("127.0.0.0/8", "::1/128", *(getattr(options, "inspect_allow", None) or ()))
    app += Inspector(
        token=getattr(options, "inspect_token", None), allow=allow, channel=app.channel
    )
