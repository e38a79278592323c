"""What a broker must do for a bridge, and which broker a URL names.

A bridge needs four things of a broker, and each engine (:mod:`._redis`,
:mod:`._nats`) maps them onto what that broker does best:

- *broadcast*: a frame to every process listening on a channel, at most once;
- *request*: a frame to exactly one process serving a channel;
- *work*: a frame to one process of a group, kept by the broker until that process
  acknowledges it, handed to another when it does not in time;
- *reply*: a frame to one process's own inbox.

The bridge owns the outgoing buffer, the reconnecting and what frames mean; an
engine only moves frames and says when its connection is lost, by raising from
:meth:`Engine.send` or :meth:`Engine.receive`.
"""

from __future__ import annotations

import abc
from collections.abc import Awaitable, Callable, Sequence
from typing import Literal, Protocol
from urllib.parse import urlsplit

import attrs

from ._errors import EngineNotInstalled

__all__ = ["Delivery", "Engine", "Outgoing", "Receiver", "Route", "Subscriptions", "open_engine"]

Route = Literal["broadcast", "request", "work", "reply"]


@attrs.frozen
class Outgoing:
    """One frame waiting to be sent: where (*route* and *channel*, or an inbox for a
    reply) and what."""

    route: Route
    channel: str
    frame: bytes


@attrs.frozen
class Subscriptions:
    """What this process listens to: broadcast channels, and the request and work
    channels it serves (it has handlers for them) as a member of *group*; *queues*
    are all its ``(route, channel)`` of requests and work, served or not, so that a
    sender can make a queue keep what it sends before any member joined."""

    broadcast: tuple[str, ...]
    requests: tuple[str, ...]
    work: tuple[str, ...]
    group: str
    queues: tuple[tuple[Route, str], ...] = ()


class Delivery(abc.ABC):
    """A request or work item handed to this process.

    ``attempt`` counts deliveries (1 the first time). The bridge calls exactly one of
    :meth:`ack` (handled), :meth:`retry` (the handler failed: deliver it again) or
    :meth:`dead_letter` (given up: keep it aside for a human).
    """

    def __init__(self, channel: str, frame: bytes, attempt: int) -> None:
        self.channel = channel
        self.frame = frame
        self.attempt = attempt

    @abc.abstractmethod
    async def ack(self) -> None: ...

    @abc.abstractmethod
    async def retry(self) -> None: ...

    @abc.abstractmethod
    async def dead_letter(self, reason: str) -> None: ...


class Receiver(Protocol):
    """The bridge, as an engine sees it while receiving."""

    def on_ready(self) -> None:
        """Every subscription is in place: from now on nothing sent is missed."""

    def on_broadcast(self, channel: str, frame: bytes) -> None: ...

    def on_reply(self, frame: bytes) -> None: ...

    async def on_delivery(self, delivery: Delivery) -> None:
        """Take *delivery*; waits while the bridge already handles its limit of them."""


class Engine(abc.ABC):
    """A connection to one broker. Made by :func:`open_engine` from a URL."""

    #: The address replies to this process are sent to (set by :meth:`connect`).
    inbox: str = ""

    @abc.abstractmethod
    async def connect(self, node: str) -> None:
        """Connect (raising ``OSError`` or the client's error when the broker is not
        there); *node* names this process, for its inbox and its consumer name."""

    @abc.abstractmethod
    async def send(self, batch: Sequence[Outgoing]) -> None:
        """Send every frame of *batch*, in order; raise when the connection is lost."""

    @abc.abstractmethod
    async def receive(self, subscriptions: Subscriptions, receiver: Receiver) -> None:
        """Deliver frames to *receiver* until the connection is lost (then raise)."""

    @abc.abstractmethod
    async def close(self) -> None:
        """Drop the connection; never raises."""


EngineFactory = Callable[[str, "EngineSettings"], Engine]


@attrs.frozen
class EngineSettings:
    """The bridge's limits an engine needs (see :class:`~relays_bridge.Bridge`)."""

    namespace: str
    claim_after: float
    max_attempts: int
    batch: int


def open_engine(url: str, settings: EngineSettings) -> Engine:
    """The engine for *url*: ``redis://``/``rediss://`` or ``nats://``/``tls://``."""
    scheme = urlsplit(url).scheme.lower()
    if scheme in ("redis", "rediss", "unix"):
        try:
            from ._redis import RedisEngine
        except ImportError as error:
            raise EngineNotInstalled(
                f"a {scheme}:// bridge needs the redis client: pip install 'relays-bridge[redis]'"
            ) from error
        return RedisEngine(url, settings)
    if scheme in ("nats", "tls"):
        try:
            from ._nats import NatsEngine
        except ImportError as error:
            raise EngineNotInstalled(
                f"a {scheme}:// bridge needs nats-py: pip install 'relays-bridge[nats]'"
            ) from error
        return NatsEngine(url, settings)
    raise ValueError(
        f"no bridge engine for {url!r}: use redis://host:6379/0, rediss:// (TLS), "
        "nats://host:4222 or tls://host:4222"
    )


OnDelivery = Callable[[Delivery], Awaitable[None]]
