"""The relays plugin of relays-websocket.

Thin on purpose: the protocol modules are imported only when a hook asks for them.
The ``websocket`` dispatcher joins this module with the server.
"""

from __future__ import annotations

__all__: list[str] = []
