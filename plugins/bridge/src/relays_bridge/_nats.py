"""The NATS engine: core subjects for broadcast, requests and replies; JetStream for work.

Subjects, for namespace ``relays`` and channel ``orders``:

- ``relays.broadcast.orders``: plain publish/subscribe, at most once.
- ``relays.request.orders``: a queue subscription of the bridge's group, so each
  request goes to one member; at most once (its caller times out if none answers).
- ``relays.work.orders``: captured by the JetStream stream ``relays_work`` (work-queue
  retention: an item is kept until acknowledged, even before any worker started) and
  read by the durable pull consumer ``<group>_orders``, shared by the group's members
  (one group per work channel: JetStream refuses a second one). An
  item not acknowledged within ``claim_after`` seconds is delivered again; NATS
  counts the deliveries.
- ``relays.dead.orders``: dead letters, kept in the stream ``relays_dead``.
- ``relays.reply.<node>``: one process's replies.

The server must run with JetStream on (``nats-server -js``) for work channels.
Reconnecting is the bridge's, not the client's: the client is told not to, so a lost
server ends :meth:`NatsEngine.receive` at once and the bridge's back-off applies.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from typing import Any

import nats
import nats.errors
import nats.js.api
import nats.js.errors
from nats.aio.client import Client
from nats.aio.msg import Msg

from ._engine import Delivery, Engine, EngineSettings, Outgoing, Receiver, Subscriptions

__all__ = ["NatsEngine"]

logger = logging.getLogger("relays.bridge")

#: How long one JetStream fetch waits for items, in seconds.
_FETCH_WAIT = 1.0
#: How long the server may take to confirm this connection's subscriptions, in seconds;
#: past it the connection counts as lost and the bridge connects again.
_SUBSCRIBE_TIMEOUT = 10.0


class _RequestDelivery(Delivery):
    async def ack(self) -> None:
        pass

    async def retry(self) -> None:
        pass

    async def dead_letter(self, reason: str) -> None:
        pass  # a request is never kept: its caller got the error as the reply


class _WorkDelivery(Delivery):
    def __init__(self, engine: NatsEngine, channel: str, message: Msg) -> None:
        super().__init__(channel, message.data, message.metadata.num_delivered)
        self._engine = engine
        self._message = message

    async def ack(self) -> None:
        await self._message.ack()

    async def retry(self) -> None:
        await self._message.nak()

    async def dead_letter(self, reason: str) -> None:
        await self._engine.dead_letter(self.channel, self.frame, reason, self.attempt)
        await self._message.ack()


class NatsEngine(Engine):
    """A bridge's connection to one NATS server (``nats://``, ``tls://``)."""

    def __init__(self, url: str, settings: EngineSettings) -> None:
        self._url = url
        self._settings = settings
        self._prefix = settings.namespace
        self._client: Client | None = None
        self._lost: asyncio.Future[None] | None = None
        self._streams_ready = False

    def _subject(self, kind: str, channel: str) -> str:
        return f"{self._prefix}.{kind}.{channel}"

    async def connect(self, node: str) -> None:
        self.inbox = node
        loop = asyncio.get_running_loop()
        lost: asyncio.Future[None] = loop.create_future()
        lost.add_done_callback(_retrieved)  # the loss may come after nobody listens
        self._lost = lost

        async def on_gone() -> None:
            if not lost.done():
                lost.set_exception(ConnectionError("the NATS connection was lost"))

        async def on_error(error: Exception) -> None:
            pass  # reported through on_gone, or by the failing call

        client = Client()
        try:
            await client.connect(
                self._url,
                allow_reconnect=False,
                connect_timeout=5,
                max_reconnect_attempts=0,
                disconnected_cb=on_gone,
                closed_cb=on_gone,
                error_cb=on_error,
            )
        except BaseException:
            # nats-py leaves the socket of a refused connection (bad credentials) open
            with contextlib.suppress(Exception):
                await client.close()
            raise
        self._client = client

    async def close(self) -> None:
        client, self._client = self._client, None
        if client is not None and not client.is_closed:
            with contextlib.suppress(Exception):  # already broken: closed either way
                await client.close()
        if self._lost is not None and not self._lost.done():
            self._lost.cancel()

    async def _ensure_streams(self) -> None:
        if self._streams_ready:
            return
        assert self._client is not None
        js = self._client.jetstream()
        for name, kind, retention in (
            (f"{self._prefix}_work", "work", nats.js.api.RetentionPolicy.WORK_QUEUE),
            (f"{self._prefix}_dead", "dead", nats.js.api.RetentionPolicy.LIMITS),
        ):
            with contextlib.suppress(nats.js.errors.BadRequestError):  # made by another member
                await js.add_stream(
                    name=name, subjects=[f"{self._prefix}.{kind}.>"], retention=retention
                )
        self._streams_ready = True

    async def send(self, batch: Sequence[Outgoing]) -> None:
        client = self._client
        assert client is not None
        acks = []
        for item in batch:
            if item.route == "work":
                await self._ensure_streams()
                js = client.jetstream()
                acks.append(js.publish(self._subject("work", item.channel), item.frame))
            else:
                await client.publish(self._subject(item.route, item.channel), item.frame)
        if acks:
            await asyncio.gather(*acks)
        # Out to the server before the batch counts as sent (the client's own flusher
        # may wait for more): a lost connection shows here, and the frames are kept.
        await client.flush()
        if client.is_closed:
            raise ConnectionError("the NATS connection was lost")

    async def receive(self, subscriptions: Subscriptions, receiver: Receiver) -> None:
        client = self._client
        assert client is not None
        assert self._lost is not None

        async def on_reply(message: Msg) -> None:
            receiver.on_reply(message.data)

        await client.subscribe(self._subject("reply", self.inbox), cb=on_reply)
        for channel in subscriptions.broadcast:
            await client.subscribe(
                self._subject("broadcast", channel), cb=_broadcaster(receiver, channel)
            )
        for channel in subscriptions.requests:
            await client.subscribe(
                self._subject("request", channel),
                queue=subscriptions.group,
                cb=_requester(receiver, channel),
            )
        await _subscribed(client)
        receiver.on_ready()
        tasks = []
        if subscriptions.work:
            await self._ensure_streams()
            for channel in subscriptions.work:
                tasks.append(
                    asyncio.ensure_future(self._pull(channel, subscriptions.group, receiver))
                )
        try:
            done, _ = await asyncio.wait([self._lost, *tasks], return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                task.result()
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        raise ConnectionError("the NATS connection ended")

    async def _pull(self, channel: str, group: str, receiver: Receiver) -> None:
        assert self._client is not None
        js = self._client.jetstream()
        config = nats.js.api.ConsumerConfig(
            ack_wait=self._settings.claim_after,
            max_deliver=-1,
            ack_policy=nats.js.api.AckPolicy.EXPLICIT,
        )
        stream, durable = f"{self._prefix}_work", f"{group}_{channel}"
        await self._drop_consumer_ahead_of_stream(stream, durable, self._subject("work", channel))
        subscription = await js.pull_subscribe(
            self._subject("work", channel), durable=durable, stream=stream, config=config
        )
        while True:
            try:
                messages = await subscription.fetch(self._settings.batch, timeout=_FETCH_WAIT)
            except nats.errors.TimeoutError:
                continue
            for message in messages:
                await receiver.on_delivery(_WorkDelivery(self, channel, message))

    async def _drop_consumer_ahead_of_stream(
        self, stream: str, durable: str, subject: str
    ) -> None:
        """Delete the durable consumer *durable* if a crash left it ahead of *stream*.

        A nats-server killed hard (SIGKILL, power loss) may lose the stream's last writes
        (it syncs its files every ``sync_interval``, 2 min by default) but keep the
        consumer's record of having delivered them. The stream then numbers new items
        with sequences the consumer believes it delivered already, and holds each back
        as a redelivery due only after ``claim_after`` (or skips it, if it believes it
        acknowledged). Two signs show it: the consumer delivered past the stream's end
        (seen when nothing was published since the restart), or the stream holds an item
        of ours at a sequence the consumer acknowledged (a work-queue stream deletes what
        is acknowledged, so that item was numbered again: seen when senders were faster).
        The unacknowledged items are in the stream, not in the consumer (work-queue
        retention), so a consumer made afresh loses nothing; :meth:`_pull` makes it.
        """
        assert self._client is not None
        js = self._client.jetstream()
        try:
            consumer = await js.consumer_info(stream, durable)
        except nats.js.errors.NotFoundError:
            return  # not made yet: pull_subscribe makes it
        last = (await js.stream_info(stream)).state.last_seq
        delivered = consumer.delivered.stream_seq if consumer.delivered is not None else 0
        acknowledged = consumer.ack_floor.stream_seq if consumer.ack_floor is not None else 0
        if delivered > last:
            found = (
                f"has delivered up to sequence {delivered} but its stream {stream} ends at {last}"
            )
        else:
            try:
                first = (await js.get_msg(stream, seq=1, subject=subject, next=True)).seq or 0
            except nats.js.errors.NotFoundError:
                return  # nothing waits
            if not 0 < first <= acknowledged:
                return
            found = (
                f"has acknowledged up to sequence {acknowledged} but its stream {stream} "
                f"holds a new item at sequence {first}"
            )
        logger.warning(
            "bridge: the NATS consumer %s %s (the server lost its last writes in a crash); "
            "recreating the consumer so new items are not held back (set sync_interval: "
            "always in nats-server's jetstream config to avoid this)",
            durable,
            found,
        )
        with contextlib.suppress(nats.js.errors.NotFoundError):  # another member did it
            await js.delete_consumer(stream, durable)

    async def dead_letter(self, channel: str, frame: bytes, reason: str, attempt: int) -> None:
        assert self._client is not None
        await self._ensure_streams()
        await self._client.jetstream().publish(
            self._subject("dead", channel),
            frame,
            headers={"Relays-Reason": reason[:512], "Relays-Attempts": str(attempt)},
        )


async def _subscribed(client: Client) -> None:
    """Return once the server has processed every SUB this connection sent so far.

    ``client.flush()`` is not that barrier in nats-py: it writes its PING straight to the
    socket while the SUBs wait in the client's buffer for its flusher task, so the wire
    carries PING before SUB and the PONG can come back before the server saw the
    subscriptions. A broadcast published in that gap is lost (core NATS keeps nothing for
    late subscribers); the broadcast test timed out that way on loaded machines. A
    message to a fresh inbox of our own, queued in the same buffer behind the SUBs, comes
    back only after the server processed them, whatever the client's order.
    """
    arrived: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    async def on_probe(message: Msg) -> None:
        if not arrived.done():
            arrived.set_result(None)

    probe = client.new_inbox()
    subscription = await client.subscribe(probe, cb=on_probe)
    try:
        await client.publish(probe, b"")
        try:
            await asyncio.wait_for(arrived, _SUBSCRIBE_TIMEOUT)
        except TimeoutError:
            raise ConnectionError(
                f"the NATS server did not confirm the subscriptions within {_SUBSCRIBE_TIMEOUT} s"
            ) from None
    finally:
        with contextlib.suppress(Exception):  # a lost connection ends it anyway
            await subscription.unsubscribe()


def _retrieved(future: asyncio.Future[None]) -> None:
    if not future.cancelled():
        future.exception()


def _broadcaster(receiver: Receiver, channel: str) -> Any:
    async def on_message(message: Msg) -> None:
        receiver.on_broadcast(channel, message.data)

    return on_message


def _requester(receiver: Receiver, channel: str) -> Any:
    async def on_message(message: Msg) -> None:
        await receiver.on_delivery(_RequestDelivery(channel, message.data, 1))

    return on_message
