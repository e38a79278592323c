"""The Redis engine: pub/sub for broadcast and replies, Streams for requests and work.

Names, for namespace ``relays`` and channel ``orders``:

- ``relays:broadcast:orders``: a pub/sub channel; every subscriber gets each frame.
- ``relays:request:orders`` and ``relays:work:orders``: streams read by the consumer
  group (the bridge's ``group``), so each entry goes to one member, and acknowledged
  once handled. Only work streams are claimed again (below), so a request is at most
  once (its caller times out if the member dies); a work item is at least once.
- ``relays:dead:orders``: the dead-letter stream (fields ``frame``, ``reason``,
  ``attempts``), for a human or a tool to inspect and replay.
- ``relays:reply:<node>``: the pub/sub channel of one process's replies.

Redelivery: every ``claim_after / 2`` seconds each member looks for entries of its
group delivered more than ``claim_after`` seconds ago and not acknowledged
(``XPENDING ... IDLE``), claims them (``XCLAIM``) and runs them again; Redis counts
the deliveries. An acknowledged entry is deleted (``XDEL``), so use one group per
work channel.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from typing import Any

import redis.asyncio
import redis.exceptions

from ._engine import Delivery, Engine, EngineSettings, Outgoing, Receiver, Subscriptions

__all__ = ["RedisEngine"]

#: How long one XREADGROUP blocks, in ms: short enough to notice a dead connection.
_BLOCK_MS = 1000
_FRAME = b"f"


class _StreamDelivery(Delivery):
    def __init__(
        self,
        engine: RedisEngine,
        channel: str,
        stream: str,
        entry: bytes,
        frame: bytes,
        attempt: int,
    ) -> None:
        super().__init__(channel, frame, attempt)
        self._engine = engine
        self._stream = stream
        self._entry = entry

    async def ack(self) -> None:
        await self._engine.settle(self._stream, self._entry)

    async def retry(self) -> None:
        pass  # left pending: claimed again after claim_after

    async def dead_letter(self, reason: str) -> None:
        await self._engine.dead_letter(
            self.channel, self._stream, self._entry, self.frame, reason, self.attempt
        )


class RedisEngine(Engine):
    """A bridge's connection to one Redis server (``redis://``, ``rediss://``)."""

    def __init__(self, url: str, settings: EngineSettings) -> None:
        self._url = url
        self._settings = settings
        self._prefix = settings.namespace
        self._client: redis.asyncio.Redis | None = None
        self._node = ""
        self._group = ""

    def _name(self, kind: str, channel: str) -> str:
        return f"{self._prefix}:{kind}:{channel}"

    async def connect(self, node: str) -> None:
        self._node = node
        self.inbox = node
        client = redis.asyncio.Redis.from_url(
            self._url, socket_connect_timeout=5, health_check_interval=0, retry=None
        )
        self._client = client
        await client.ping()

    async def close(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            with contextlib.suppress(Exception):  # a dead connection closes badly
                await client.aclose()

    async def send(self, batch: Sequence[Outgoing]) -> None:
        assert self._client is not None
        pipeline = self._client.pipeline(transaction=False)
        for item in batch:
            if item.route == "broadcast":
                pipeline.publish(self._name("broadcast", item.channel), item.frame)
            elif item.route == "reply":
                pipeline.publish(self._name("reply", item.channel), item.frame)
            else:
                pipeline.xadd(self._name(item.route, item.channel), {_FRAME: item.frame})
        await pipeline.execute()

    async def receive(self, subscriptions: Subscriptions, receiver: Receiver) -> None:
        assert self._client is not None
        self._group = subscriptions.group
        streams: dict[str, str] = {}  # stream name -> channel
        for kind, served in (("request", subscriptions.requests), ("work", subscriptions.work)):
            for channel in served:
                streams[self._name(kind, channel)] = channel
        for route, channel in subscriptions.queues:
            await self._create_group(self._name(route, channel), subscriptions.group)
        pubsub = self._client.pubsub()
        channels = {self._name("broadcast", c): c for c in subscriptions.broadcast}
        reply = self._name("reply", self._node)
        try:
            await pubsub.subscribe(reply, *channels)
        except BaseException:
            await pubsub.aclose()
            raise
        tasks = [self._listen(pubsub, channels, reply, receiver)]
        if streams:
            tasks.append(self._read(streams, subscriptions.group, receiver))
            work = {s: c for s, c in streams.items() if s.startswith(f"{self._prefix}:work:")}
            if work:
                tasks.append(self._claim(work, subscriptions.group, receiver))
        await _first_failure(tasks)

    async def _create_group(self, stream: str, group: str) -> None:
        assert self._client is not None
        try:
            await self._client.xgroup_create(stream, group, id="$", mkstream=True)
        except redis.exceptions.ResponseError as error:
            if "BUSYGROUP" not in str(error):
                raise

    async def _listen(
        self, pubsub: Any, channels: dict[str, str], reply: str, receiver: Receiver
    ) -> None:
        # redis-py's subscribe() only sends SUBSCRIBE; Redis confirms each channel with a
        # "subscribe" message. Until every confirmation is in, a PUBLISH from another
        # client may still be processed before our SUBSCRIBE and never reach us, so the
        # bridge is not ready (and fires nothing) before then.
        unconfirmed = {reply, *channels}
        try:
            while True:
                message = await pubsub.get_message(timeout=None)
                if message is None:
                    continue
                if message["type"] == "subscribe" and unconfirmed:
                    unconfirmed.discard(message["channel"].decode())
                    if not unconfirmed:
                        receiver.on_ready()
                    continue
                if message["type"] != "message":
                    continue
                name = message["channel"].decode()
                if name == reply:
                    receiver.on_reply(message["data"])
                else:
                    receiver.on_broadcast(channels[name], message["data"])
        finally:
            await pubsub.aclose()

    async def _read(self, streams: dict[str, str], group: str, receiver: Receiver) -> None:
        assert self._client is not None
        wanted: Any = dict.fromkeys(streams, ">")
        while True:
            found: Any = await self._client.xreadgroup(
                group, self._node, wanted, count=self._settings.batch, block=_BLOCK_MS
            )
            for stream_name, entries in found or ():
                stream = stream_name.decode()
                for entry, fields in entries:
                    # A request is acknowledged after its reply is queued, off the round
                    # trip's path; it is at most once all the same, since only work streams
                    # are ever claimed again.
                    await receiver.on_delivery(
                        _StreamDelivery(
                            self, streams[stream], stream, entry, fields.get(_FRAME, b""), 1
                        )
                    )

    async def _claim(self, streams: dict[str, str], group: str, receiver: Receiver) -> None:
        assert self._client is not None
        idle_ms = int(self._settings.claim_after * 1000)
        while True:
            await asyncio.sleep(self._settings.claim_after / 2)
            for stream, channel in streams.items():
                pending: Any = await self._client.xpending_range(
                    stream, group, min="-", max="+", count=self._settings.batch, idle=idle_ms
                )
                for record in pending:
                    claimed: Any = await self._client.xclaim(
                        stream, group, self._node, idle_ms, [record["message_id"]]
                    )
                    for entry, fields in claimed:
                        if fields is None:
                            continue  # deleted meanwhile
                        attempt = int(record["times_delivered"]) + 1
                        await receiver.on_delivery(
                            _StreamDelivery(
                                self, channel, stream, entry, fields.get(_FRAME, b""), attempt
                            )
                        )

    async def settle(self, stream: str, entry: bytes) -> None:
        """Acknowledge and delete one entry."""
        assert self._client is not None
        pipeline = self._client.pipeline(transaction=False)
        pipeline.xack(stream, self._group, entry)
        pipeline.xdel(stream, entry)
        await pipeline.execute()

    async def dead_letter(
        self, channel: str, stream: str, entry: bytes, frame: bytes, reason: str, attempt: int
    ) -> None:
        assert self._client is not None
        await self._client.xadd(
            self._name("dead", channel),
            {_FRAME: frame, b"reason": reason.encode(), b"attempts": str(attempt).encode()},
        )
        await self.settle(stream, entry)


async def _first_failure(coroutines: list[Any]) -> None:
    """Run *coroutines* until one ends (they run forever unless the connection is
    lost), cancel the others, and raise the first one's error."""
    tasks = [asyncio.ensure_future(coroutine) for coroutine in coroutines]
    try:
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    for task in done:
        task.result()
    raise ConnectionError("the broker connection ended")
