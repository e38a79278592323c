"""The relays plugin of relays-servlets: the ``servlets`` dispatcher and ``--servlets``.

Thin on purpose: the servlet modules are imported only when a hook asks for them.
"""

from __future__ import annotations

from relays import DispatcherPlugin

__all__ = [
    "relays_add_options",
    "relays_app_created",
    "relays_dispatcher",
    "relays_provides",
]

plugin = DispatcherPlugin(
    "servlets",
    "relays_servlets._application:Servlets",
    "Webware-style servlet contexts: Servlets(...)",
    option="--servlets",
    mount="relays_servlets._cli:mount_contexts",
    metavar="[PREFIX=]DIR",
    help="serve the servlet files of DIR at URL PREFIX (default /), repeatable",
    repeatable=True,
    group="servlets (relays-servlets)",
)
relays_dispatcher = plugin.relays_dispatcher
relays_provides = plugin.relays_provides
relays_add_options = plugin.relays_add_options
relays_app_created = plugin.relays_app_created
