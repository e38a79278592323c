"""Named priority bands: the contract between components that handle the same event.

Handlers of one event run from the highest priority to the lowest (0 by default). When
components from different distributions must run in a set order (an access log before the
dispatchers, the dispatchers before the default one, HTTP connections finishing before the
listening sockets close), each takes a band from here instead of a number whose comment
names another package's number. Bands leave room between them: a component that must run
just before or after one may use ``Priority.DISPATCH + 1``.
"""

from __future__ import annotations

from typing import Final

__all__ = ["Priority"]


class Priority:
    """Priority bands, highest first; plain ints, as in
    ``@handler("request", priority=Priority.ROUTE)``."""

    #: Sees every event before anything answers it, and changes nothing (access logs, the
    #: recorder of :mod:`relays.testing`).
    OBSERVE: Final = 10_000
    #: Shows events as they are dispatched (the Debugger).
    INSPECT: Final = 1_000
    #: Prepares an event before it is routed: trusted proxy fields rewritten, timers set up.
    PREPARE: Final = 100
    #: Chooses where an event goes (virtual hosts mapping a Host field to a path prefix).
    ROUTE: Final = 30
    #: Answers the events meant for it (static files, RPC endpoints, WSGI and ASGI apps).
    DISPATCH: Final = 20
    #: Answers what no specific dispatcher took (the default controller dispatcher).
    FALLBACK: Final = 10
    #: Application handlers.
    DEFAULT: Final = 0
    #: Releases what the application used, after it (worker pools shut down).
    CLEANUP: Final = -100
    #: Runs after everything else (the Debugger's last line, session cookies written into
    #: a response every other ``before_response`` handler has finished with).
    LAST: Final = -1_000

    # -- stopping: handlers of ``stopped`` ---------------------------------------------
    #: Protocols finish their conversations (HTTP answers what it owes, closes idle
    #: connections) while the transports underneath still work.
    STOP_PROTOCOLS: Final = 10
    #: Transports close their listeners and remaining connections.
    STOP_TRANSPORTS: Final = -10
