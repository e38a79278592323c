"""Hook specifications: how plugins extend relays.

A plugin is a module (or object) with functions marked ``@hookimpl`` whose names
match the specs below; a distribution makes it available with an entry point in the
``relays`` group::

    [project.entry-points.relays]
    sockets = "relays_sockets.plugin"

The kernel never imports a plugin by name. It asks the plugin manager ("who
provides transport ``tcp``?") and, when nobody answers, tells the user which package
to install. Hooks are always called with keyword arguments, so a spec can grow new
arguments without breaking existing plugins. Lookups are ``firstresult``: the first
plugin that returns something other than ``None`` answers.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    from ._components import BaseComponent
    from ._config import Config, Provided
    from .transports import Transport

__all__ = [
    "hookimpl",
    "hookspec",
    "relays_adapt_app",
    "relays_add_commands",
    "relays_add_hookspecs",
    "relays_add_options",
    "relays_app_created",
    "relays_configure",
    "relays_dispatcher",
    "relays_protocol",
    "relays_provides",
    "relays_start_process",
    "relays_transport",
]

hookspec = pluggy.HookspecMarker("relays")
#: Mark a plugin function as the implementation of the hook of the same name.
hookimpl = pluggy.HookimplMarker("relays")


# -- set-up: called once per plugin, when it is registered ---------------------------


@hookspec(historic=True)
def relays_add_hookspecs(plugin_manager: pluggy.PluginManager) -> None:
    """Add this plugin's own hook specs: ``plugin_manager.add_hookspecs(my_specs)``.

    A plugin that others extend (a session plugin with pluggable stores, say)
    declares its specs here, so implementations in other plugins are checked against
    them. Historic: every plugin is called when it is registered, whatever the order.
    """


# -- lookups: called whenever an application asks for a part by name ----------------


@hookspec(firstresult=True)
def relays_transport(scheme: str) -> Transport | None:
    """Return the :class:`~relays.transports.Transport` for URL scheme *scheme*.

    Called by :func:`relays.find_transport` with schemes such as ``"tcp"``, ``"tcp6"``,
    ``"udp"``, ``"unix"`` and ``"tls"``. Return ``None`` for schemes you do not serve.
    """


@hookspec(firstresult=True)
def relays_protocol(name: str) -> Callable[..., BaseComponent] | None:
    """Return a factory for the protocol component called *name* (e.g. ``"http"``).

    The factory is called with keyword arguments only (at least ``channel=``, the
    transport's channel) and returns a component that handles the transport events of
    :mod:`relays.transports` on that channel. Return ``None`` for other names.
    """


@hookspec(firstresult=True)
def relays_dispatcher(name: str) -> Callable[..., BaseComponent] | None:
    """Return a factory for the dispatcher component called *name*.

    Dispatchers route requests of a protocol to handlers (``"static"``, ``"xmlrpc"``,
    ``"jsonrpc"``, ...). The factory takes keyword arguments defined by the
    dispatcher and returns a component. Return ``None`` for other names.
    """


@hookspec(firstresult=True)
def relays_adapt_app(app: object) -> BaseComponent | None:
    """Wrap *app*, something that is not a component, as one; ``None`` if it is not yours.

    Called by :func:`relays.load_app` (so by ``relays serve module:app`` and
    ``relays run``) when the named object is not a component: first with the object
    itself, then, if nobody took it and it is a factory, with what the factory
    returned. This is how ``relays serve`` hosts a WSGI callable (relays-http) or an
    ASGI app (relays-asgi) without the kernel knowing either. Recognise your kind by
    shape (its signature), never by calling it.
    """


@hookspec
def relays_provides() -> list[Provided]:
    """Say what this plugin answers, for ``relays plugins`` and error messages.

    Return a list of :class:`~relays.Provided` (kind and name, e.g. ``transport``
    ``tcp``). Called when listing plugins, never on a hot path.
    """
    raise NotImplementedError  # a spec: plugins implement it


# -- running: called when an application starts part of its tree --------------------


@hookspec(firstresult=True)
def relays_start_process(
    component: BaseComponent, link: BaseComponent, options: dict[str, Any]
) -> BaseComponent | None:
    """Make what runs *component*'s subtree in a child process linked to *link*'s tree.

    Called by ``component.start(process=True, link=link, **options)``; *options* are
    its other keyword arguments, yours to define (refuse one you do not know with a
    :class:`TypeError`). Return a component, not registered anywhere yet, that runs the
    subtree in a child process while it is in a running tree, carries events between
    the two trees, and stops the child when it leaves its tree or the tree stops. The
    child builds its own copy of *component* (you decide how, and refuse with an error
    naming the class a component you cannot rebuild there).

    The kernel then makes *component* the parent's proxy of the child: its handlers
    leave its hub (they run in the child only), it is registered under *link*, and
    what you returned under it, so ``component.fire`` and ``component.call`` go into
    the parent's tree and ``component.stop()`` removes both, which stops the child.
    Return ``None`` when another plugin should answer. relays-bridge answers.
    """


# -- command line: called once while ``relays`` builds its parser --------------------


@hookspec
def relays_add_commands(commands: Any) -> None:
    """Add subcommands to the ``relays`` command line.

    *commands* is the :mod:`argparse` subparsers object: call
    ``commands.add_parser(name, help=...)`` and set a ``handler`` default on the new
    parser (``parser.set_defaults(handler=...)``): a function that takes the
    :class:`~relays.Config` and returns the exit code.
    """


@hookspec
def relays_add_options(command: str, parser: argparse.ArgumentParser) -> None:
    """Add options to the existing subcommand *command* (called for each one).

    Lets a plugin extend another's command, e.g. a logging plugin adding
    ``--access-log`` to ``relays serve``.
    """


@hookspec(historic=True)
def relays_configure(config: Config) -> None:
    """Read the parsed command line before a command runs.

    Historic: a plugin registered later is called with the same configuration.
    """


@hookspec
def relays_app_created(app: BaseComponent, config: Config) -> None:
    """A command built its application tree *app* and is about to run it.

    Plugins may register components into it (an access logger, a debugger, ...).
    """
