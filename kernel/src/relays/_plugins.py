"""Finding plugins, and asking them for transports, protocols and dispatchers.

One :class:`pluggy.PluginManager` per process, made on first use: the kernel's own
built-in plugin (its CLI commands) plus every entry point of the ``relays`` group.
``RELAYS_DISABLE_PLUGIN_AUTOLOAD=1`` skips the entry points (register plugins by
hand with :func:`register_plugin`); ``RELAYS_BLOCK_PLUGINS=name,other`` skips some.
"""

from __future__ import annotations

import argparse
import importlib
import os
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pluggy

from . import hookspecs

if TYPE_CHECKING:
    from ._components import BaseComponent
    from ._config import Config, Provided
    from .transports import Transport

__all__ = [
    "BLOCK_PLUGINS_ENV",
    "DISABLE_AUTOLOAD_ENV",
    "DispatcherPlugin",
    "PluginNotFound",
    "find_dispatcher",
    "find_protocol",
    "find_transport",
    "plugin_manager",
    "register_plugin",
    "reset_plugin_manager",
]

DISABLE_AUTOLOAD_ENV = "RELAYS_DISABLE_PLUGIN_AUTOLOAD"
BLOCK_PLUGINS_ENV = "RELAYS_BLOCK_PLUGINS"
ENTRY_POINT_GROUP = "relays"

#: Which distribution provides a well-known part, to name it when it is not installed. The
#: kernel cannot ask a plugin that is not there, so this copy of what the workspace's plugins
#: say in their own ``relays_provides`` is kept here; tests/test_workspace.py fails when the
#: two disagree in either direction.
KNOWN_PROVIDERS: dict[tuple[str, str], str] = {
    **{
        ("transport", s): "relays-sockets"
        for s in ("tcp", "tcp4", "tcp6", "udp", "unix", "tls", "fd")
    },
    ("protocol", "http"): "relays-http",
    ("protocol", "jsonrpc"): "relays-jsonrpc",
    ("protocol", "line"): "relays-io",
    ("dispatcher", "default"): "relays-http",
    ("dispatcher", "virtualhosts"): "relays-http",
    ("dispatcher", "wsgi"): "relays-http",
    ("dispatcher", "static"): "relays-static",
    ("dispatcher", "xmlrpc"): "relays-xmlrpc",
    ("dispatcher", "jsonrpc"): "relays-jsonrpc",
    ("dispatcher", "sessions"): "relays-sessions",
    ("dispatcher", "websocket"): "relays-websocket",
    ("dispatcher", "resources"): "relays-resources",
    ("dispatcher", "servlets"): "relays-servlets",
    ("dispatcher", "asgi"): "relays-asgi",
    ("process link", "pipe"): "relays-bridge",
}


class PluginNotFound(LookupError):
    """No installed plugin provides the transport, protocol or dispatcher asked for.

    The message says what to do: install the distribution known to provide it, or, when
    that is installed already or nothing known provides the name, which names of that kind
    the installed plugins do provide (a typo is the usual cause).
    """

    def __init__(self, kind: str, name: str) -> None:
        self.kind = kind
        self.name = name
        self.package = KNOWN_PROVIDERS.get((kind, name))
        if self.package is not None and not _installed(self.package):
            advice = f"pip install {self.package}"
        else:
            offered = sorted(provided_names(kind))
            listed = ", ".join(repr(each) for each in offered) if offered else "none"
            advice = f"the installed plugins provide these {kind}s: {listed}"
            if self.package is not None:
                advice = (
                    f"{self.package} is installed but not loaded (see {BLOCK_PLUGINS_ENV} and"
                    f" {DISABLE_AUTOLOAD_ENV}); {advice}"
                )
        super().__init__(f"no {kind} {name!r} is installed: {advice}")


def _installed(distribution: str) -> bool:
    from importlib.metadata import PackageNotFoundError, version

    try:
        version(distribution)
    except PackageNotFoundError:
        return False
    return True


def provided_names(kind: str) -> set[str]:
    """The names of *kind* (``"dispatcher"``, ...) that installed plugins say they provide."""
    implementations = plugin_manager().hook.relays_provides()
    return {each.name for provided in implementations for each in provided if each.kind == kind}


_lock = threading.Lock()
_manager: pluggy.PluginManager | None = None


def plugin_manager() -> pluggy.PluginManager:
    """The process's plugin manager, loading installed plugins on first use."""
    global _manager
    with _lock:
        if _manager is None:
            _manager = _make_manager()
        return _manager


def _make_manager() -> pluggy.PluginManager:
    from . import _builtin

    manager = pluggy.PluginManager("relays")
    manager.add_hookspecs(hookspecs)
    manager.hook.relays_add_hookspecs.call_historic(kwargs={"plugin_manager": manager})
    manager.register(_builtin, name="relays.builtin")
    for name in os.environ.get(BLOCK_PLUGINS_ENV, "").split(","):
        if name.strip():
            manager.set_blocked(name.strip())
    if os.environ.get(DISABLE_AUTOLOAD_ENV, "") in ("", "0"):
        manager.load_setuptools_entrypoints(ENTRY_POINT_GROUP)
    return manager


def reset_plugin_manager() -> None:
    """Forget the plugin manager; the next use loads plugins again (for tests)."""
    global _manager
    with _lock:
        _manager = None


def register_plugin(plugin: object, name: str | None = None) -> None:
    """Register a plugin object or module by hand (no entry point needed)."""
    plugin_manager().register(plugin, name=name)


def find_transport(scheme: str) -> Transport:
    """The transport for *scheme*; :class:`PluginNotFound` names what to install."""
    transport: Transport | None = plugin_manager().hook.relays_transport(scheme=scheme)
    if transport is None:
        raise PluginNotFound("transport", scheme)
    return transport


def find_protocol(name: str) -> Callable[..., BaseComponent]:
    """The factory of protocol *name*; :class:`PluginNotFound` names what to install."""
    factory: Callable[..., BaseComponent] | None = plugin_manager().hook.relays_protocol(name=name)
    if factory is None:
        raise PluginNotFound("protocol", name)
    return factory


def find_dispatcher(name: str) -> Callable[..., BaseComponent]:
    """The factory of dispatcher *name*; :class:`PluginNotFound` names what to install."""
    factory: Callable[..., BaseComponent] | None = plugin_manager().hook.relays_dispatcher(
        name=name
    )
    if factory is None:
        raise PluginNotFound("dispatcher", name)
    return factory


def describe_plugins() -> list[dict[str, Any]]:
    """One row per installed plugin: name, distribution, version and what it provides."""
    manager = plugin_manager()
    distributions = {id(plugin): dist for plugin, dist in manager.list_plugin_distinfo()}
    rows = []
    for name, plugin in manager.list_name_plugin():
        if plugin is None or name == "relays.builtin":
            continue
        dist = distributions.get(id(plugin))
        provided: list[Any] = []
        implementation = getattr(plugin, "relays_provides", None)
        if implementation is not None:
            provided = list(implementation() or [])
        rows.append(
            {
                "name": name,
                "distribution": dist.project_name if dist is not None else "-",
                "version": dist.version if dist is not None else "-",
                "provides": ", ".join(f"{p.kind} {p.name}" for p in provided) or "-",
            }
        )
    return rows


def _import(target: str) -> Any:
    """The object named by ``"package.module:attribute"``, imported now."""
    module, _, attribute = target.partition(":")
    if not attribute:
        raise ValueError(f"name an object as 'package.module:attribute', not {target!r}")
    return getattr(importlib.import_module(module), attribute)


class DispatcherPlugin:
    """The hook implementations of a plugin that provides one dispatcher, and
    optionally a ``relays serve`` option that mounts it.

    Most dispatcher plugins say the same four things: "the dispatcher *name* is made
    by *factory*", "I provide it" (``relays plugins``), "``relays serve`` takes
    *option*", and "when the option is given, mount what *mount* builds from its value
    on the app". Their plugin module makes one of these and names its four bound methods
    (``relays_dispatcher = plugin.relays_dispatcher`` and so on) as the module's hooks:
    pluggy reads hooks from the module, the entry point.

    *factory* and *mount* are ``"package.module:attribute"`` strings, imported only
    when a hook needs them, so that loading every installed plugin stays cheap.
    *mount* is called as ``mount(value, channel=app.channel)`` with the option's value
    (a list with *repeatable*) and returns the component added to the app. The option
    is in an argument group *group* of ``relays serve --help``.
    """

    def __init__(
        self,
        name: str,
        factory: str,
        description: str,
        *,
        option: str | None = None,
        mount: str | None = None,
        metavar: str | None = None,
        help: str = "",
        repeatable: bool = False,
        group: str | None = None,
    ) -> None:
        if (option is None) != (mount is None):
            raise ValueError("give both option= and mount= (the option mounts), or neither")
        if option is not None and not option.startswith("--"):
            raise ValueError(f"an option is spelled '--name', not {option!r}")
        self.name = name
        self.factory = factory
        self.description = description
        self.option = option
        self.mount = mount
        self.metavar = metavar
        self.help = help
        self.repeatable = repeatable
        self.group = group or f"{name} (dispatcher)"
        self.destination = option[2:].replace("-", "_") if option is not None else None

    @hookspecs.hookimpl
    def relays_dispatcher(self, name: str) -> Callable[..., BaseComponent] | None:
        if name != self.name:
            return None
        factory: Callable[..., BaseComponent] = _import(self.factory)
        return factory

    @hookspecs.hookimpl
    def relays_provides(self) -> list[Provided]:
        from ._config import Provided

        return [Provided("dispatcher", self.name, self.description)]

    @hookspecs.hookimpl
    def relays_add_options(self, command: str, parser: argparse.ArgumentParser) -> None:
        if command != "serve" or self.option is None:
            return
        group = parser.add_argument_group(self.group)
        group.add_argument(
            self.option,
            action="append" if self.repeatable else "store",
            default=None,
            metavar=self.metavar,
            help=self.help,
        )

    @hookspecs.hookimpl
    def relays_app_created(self, app: BaseComponent, config: Config) -> None:
        if self.destination is None or self.mount is None or config.command != "serve":
            return
        value = config.get(self.destination)
        if not value:
            return
        app += _import(self.mount)(value, channel=app.channel)
