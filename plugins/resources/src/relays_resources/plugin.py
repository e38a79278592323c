"""The relays plugin of relays-resources: the ``resources`` dispatcher and ``--resource``.

Thin on purpose: the resource modules are imported only when a hook asks for them.
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
    "resources",
    "relays_resources._site:Site",
    "a Twisted-style resource tree: Site(root)",
    option="--resource",
    mount="relays_resources._cli:mount_root",
    metavar="MODULE:ROOT",
    help="serve the Resource tree ROOT of MODULE (a Resource, or a callable making one)",
    group="resource trees (relays-resources)",
)
relays_dispatcher = plugin.relays_dispatcher
relays_provides = plugin.relays_provides
relays_add_options = plugin.relays_add_options
relays_app_created = plugin.relays_app_created
