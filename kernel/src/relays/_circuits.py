"""One-line answers for circuits names that relays does not have.

``from relays import Manager`` (or ``relays.Manager``) raises :class:`CircuitsName`, an
:class:`ImportError` whose message names the replacement, instead of Python's bare
"cannot import name". It is an ImportError and not an AttributeError on purpose: Python
replaces an AttributeError raised during ``from ... import`` with its own message. Only
the names below are answered this way; any other missing name is a plain AttributeError.
The full table is docs/howto/coming-from-circuits.rst.
"""

from __future__ import annotations

from typing import NoReturn

__all__ = ["REPLACEMENTS", "CircuitsName", "explain_missing_name"]

#: circuits name -> what to use in relays.
REPLACEMENTS = {
    "Manager": "any component is a root: Component().run(), .start() or `async with`",
    "TimeoutError": "call() and wait() raise the builtin TimeoutError",
    "sleep": "handlers are async def: await asyncio.sleep(seconds)",
    "reprhandler": "repr() of a relays.Handler",
    "Bridge": "from relays_bridge import Bridge (pip install relays-bridge; over Redis or NATS)",
    "ipc": "fire the event on a channel a relays_bridge.Bridge shares (pip install relays-bridge)",
    "File": "from relays_io import File (pip install relays-io)",
    "Process": "from relays_io import Process (pip install relays-io)",
    "Notify": "from relays_io import Notify (pip install relays-io)",
    "Pipe": "from relays_io import Pipe (pip install relays-io)",
    "Line": "from relays_io import Line (pip install relays-io)",
    "Daemon": "from relays_app import Daemon (pip install relays-app)",
    "DropPrivileges": "from relays_app import DropPrivileges (pip install relays-app)",
    "TCPServer": "from relays_sockets import TCPServer (pip install relays-sockets)",
    "TCPClient": "from relays_sockets import TCPClient (pip install relays-sockets)",
    "safeimport": "importlib.import_module, or a Loader's load event",
}


class CircuitsName(ImportError):
    """A circuits name that relays does not have; the message names the replacement."""


def explain_missing_name(name: str) -> NoReturn:
    """Raise for *name*: :class:`CircuitsName` for a known circuits name, else AttributeError."""
    replacement = REPLACEMENTS.get(name)
    if replacement is None:
        raise AttributeError(f"module 'relays' has no attribute {name!r}")
    raise CircuitsName(
        f"relays has no {name} (a circuits name): {replacement}; see 'Coming from circuits'",
        name="relays",
    )
