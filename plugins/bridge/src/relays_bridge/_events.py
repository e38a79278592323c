"""The events a bridge fires about itself, on its own channel (``"bridge"``)."""

from __future__ import annotations

from relays import Event

__all__ = [
    "BridgeConnected",
    "BridgeDisconnected",
    "BridgeOverflow",
    "BridgeRejected",
    "ProcessExited",
]


class BridgeConnected(Event):
    """``bridge_connected(url)``: connected to the broker (again); *url* has no password."""


class BridgeDisconnected(Event):
    """``bridge_disconnected(url, reason)``: lost the broker or could not reach it; the
    bridge keeps trying with back-off and buffers outgoing events meanwhile."""


class BridgeOverflow(Event):
    """``bridge_overflow(channel, event_name, buffered)``: the outgoing buffer is full,
    so an event fired on *channel* was refused (its value fails with
    :class:`~relays_bridge.BridgeOverflowError`)."""


class BridgeRejected(Event):
    """``bridge_rejected(channel, reason)``: a message from the network was not a valid
    event of ours and no handler saw it (a work item goes to the dead-letter stream)."""


class ProcessExited(Event):
    """``process_exited(name, pid, exit_code)``: the child process of a
    :class:`~relays_bridge.ProcessLink` exited or died (*exit_code* is negative for a
    signal: -9 for SIGKILL) while the tree ran; calls waiting for it failed. The link
    does not start another: a handler decides (``spawn`` a new link, or stop)."""
