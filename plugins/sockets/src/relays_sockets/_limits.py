"""The limits of a socket server or client: explicit, named, with safe defaults."""

from __future__ import annotations

from typing import Any

import attrs

__all__ = ["SocketLimits"]


def _positive(instance: Any, attribute: Any, value: Any) -> None:
    if value <= 0:
        raise ValueError(f"{attribute.name} must be positive, not {value!r}")


def _positive_or_none(instance: Any, attribute: Any, value: Any) -> None:
    if value is not None and value <= 0:
        raise ValueError(f"{attribute.name} must be positive or None, not {value!r}")


@attrs.frozen
class SocketLimits:
    """How much a socket component lets its peers use.

    Every field has a default that is safe for a public server; pass your own with
    ``TCPServer(bind, limits=SocketLimits(idle_timeout=30))`` or override single
    fields with :func:`attrs.evolve`.
    """

    #: Bytes read from a connection at a time (the largest ``data`` of one ``read``).
    #: One buffer of this size per server or client, shared by its connections. 256 KiB,
    #: as asyncio's and uvloop's transports read: a 64 KiB WebSocket message then comes
    #: in one read, not two (31% fewer instructions per echoed message, measured with
    #: ``benchmarks/websocket.py --instructions``), and small messages cost the same.
    read_size: int = attrs.field(default=256 * 1024, validator=_positive)
    #: Connections a server keeps open at once; beyond it new ones are closed at once
    #: and counted in a warning. ``None`` means no limit.
    max_connections: int | None = attrs.field(default=10_000, validator=_positive_or_none)
    #: Seconds a connection may stay without reading or writing before it is closed.
    #: ``None`` keeps idle connections open forever.
    idle_timeout: float | None = attrs.field(default=300.0, validator=_positive_or_none)
    #: Bytes waiting in a connection's write buffer above which reading from that peer
    #: pauses (backpressure), ...
    write_high_water: int = attrs.field(default=256 * 1024, validator=_positive)
    #: ... and below which it resumes.
    write_low_water: int = attrs.field(default=64 * 1024)
    #: ``read`` events of one connection not yet handled above which reading pauses
    #: (slow ``async`` handlers cannot make the event queue grow without bound).
    max_pending_reads: int = attrs.field(default=64, validator=_positive)
    #: Seconds a TLS handshake may take (also for STARTTLS). On a TLS server it counts
    #: from the accept: a peer must send its first bytes and finish the handshake in
    #: that time, else it is dropped with its TLS state (about 300 KB). Handshakes
    #: under way count against ``max_connections``.
    handshake_timeout: float = attrs.field(default=10.0, validator=_positive)
    #: Seconds a graceful stop waits for *busy* connections (a protocol still
    #: answering: see :attr:`SocketConnection.busy`) to finish before closing them.
    #: With ``drain_timeout`` it should stay under the kernel's 10 s stop budget.
    shutdown_timeout: float = attrs.field(default=4.0, validator=_positive)
    #: Seconds a graceful stop waits for queued writes to drain before aborting.
    drain_timeout: float = attrs.field(default=5.0, validator=_positive)
    #: Seconds a lingering close (:meth:`SocketConnection.linger`) reads and discards
    #: what the peer still sends before closing anyway.
    linger_timeout: float = attrs.field(default=2.0, validator=_positive)
    #: Connections the kernel queues before the server accepts them (``listen`` backlog).
    backlog: int = attrs.field(default=1024, validator=_positive)

    @write_low_water.validator
    def _check_low_water(self, attribute: Any, value: int) -> None:
        if not 0 <= value <= self.write_high_water:
            raise ValueError(
                f"write_low_water must be between 0 and write_high_water "
                f"({self.write_high_water}), not {value!r}"
            )
