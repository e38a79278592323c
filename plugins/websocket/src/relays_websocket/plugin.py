"""The relays plugin of relays-websocket.

Thin on purpose: the protocol modules are imported only when a hook asks for them.
The sans-IO core has no hook; the ``websocket`` dispatcher joins it with the server.
"""

from __future__ import annotations

__all__: list[str] = []
