"""relays-bridge: events across processes and machines, over Redis or NATS.

Put a :class:`Bridge` in a tree and the events fired on its channels reach every
other process joined to the same broker: broadcast, work queues and requests whose
results come back to ``call``. ``component.start(process=True, link=parent)`` (or
:func:`spawn`, both a :class:`ProcessLink`) runs a subtree in a child process joined
the same way over a pipe, with no broker. See ``docs/howto/bridge.rst``.
"""

from ._bridge import FORWARD_PRIORITY, Bridge
from ._codec import DEFAULT_MAX_MESSAGE_SIZE, Codec, EventMessage, ReplyMessage
from ._errors import (
    BridgeError,
    BridgeOverflowError,
    BridgeProtocolError,
    BridgeTimeout,
    EngineNotInstalled,
    EventNotRegistered,
    EventNotSerialisable,
    RemoteError,
)
from ._events import (
    BridgeConnected,
    BridgeDisconnected,
    BridgeOverflow,
    BridgeRejected,
    ProcessExited,
)
from ._process import ProcessLink, spawn
from ._rebuild import NotRebuildable, rebuildable
from ._registry import EventRegistry

__all__ = [
    "DEFAULT_MAX_MESSAGE_SIZE",
    "FORWARD_PRIORITY",
    "Bridge",
    "BridgeConnected",
    "BridgeDisconnected",
    "BridgeError",
    "BridgeOverflow",
    "BridgeOverflowError",
    "BridgeProtocolError",
    "BridgeRejected",
    "BridgeTimeout",
    "Codec",
    "EngineNotInstalled",
    "EventMessage",
    "EventNotRegistered",
    "EventNotSerialisable",
    "EventRegistry",
    "NotRebuildable",
    "ProcessExited",
    "ProcessLink",
    "RemoteError",
    "ReplyMessage",
    "rebuildable",
    "spawn",
]
