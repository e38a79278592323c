"""The Bridge component: events on chosen channels, shared with other processes.

Theory of operation
-------------------
Sending. For each bridged channel the bridge registers a small *link* component on
that channel with a ``"*"`` handler at :data:`FORWARD_PRIORITY`, so it sees every
event fired on the channel before the application's handlers do. A link skips events
that arrived from the network (they carry ``bridge_origin``), events fired on ``"*"``
rather than on its channel, and the kernel's own lifecycle events. Any other event
is encoded right there (an unregistered class or an argument that cannot travel is
refused: the event is stopped and its value fails, naming the argument) and queued
in the bridge's bounded outbox; a full outbox fires ``bridge_overflow`` and refuses.

- broadcast channels: the local handlers run too, and every other process runs its
  own (the broker echoes ours back; we drop our own).
- work and request channels: the link stops the event, so it runs in exactly one
  process: whichever member of the group the broker hands it to (this one included).
  A request link is an ``async`` handler that waits for the reply, so ``call`` gives
  the remote result or raises its :class:`~relays_bridge.RemoteError`.

Receiving. One task per connection runs the engine's receivers and the sender. An
incoming frame is decoded, checked against the registered class (see
:mod:`._registry`), marked with ``bridge_origin`` and fired on its channel. A request
or work item is acknowledged only after its handlers finished: a work item whose
handler failed is delivered again, up to ``max_attempts``, then dead-lettered; one
whose process died is handed to another member after ``claim_after`` seconds.

Faults. Losing the broker ends the connection's task; the bridge fires
``bridge_disconnected`` and connects again after a delay that doubles up to
``max_reconnect_delay``. The outbox keeps what was fired meanwhile (up to
``max_buffered`` frames) and is sent first once connected again.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import re
import traceback
import uuid
from collections import deque
from collections.abc import Iterable
from typing import Any, Literal
from urllib.parse import urlsplit, urlunsplit

from relays import (
    BaseComponent,
    Event,
    ExceptionEvent,
    Registered,
    Signal,
    Started,
    Stopped,
    Unregistered,
    handler,
)

from ._codec import DEFAULT_MAX_MESSAGE_SIZE, Codec, EventMessage, ReplyMessage
from ._engine import Delivery, Engine, EngineSettings, Outgoing, Route, Subscriptions, open_engine
from ._errors import (
    BridgeError,
    BridgeOverflowError,
    BridgeProtocolError,
    BridgeTimeout,
    remote_error,
)
from ._events import (
    BridgeConnected,
    BridgeDisconnected,
    BridgeOverflow,
    BridgeRejected,
    ProcessExited,
)
from ._registry import EventRegistry

__all__ = ["FORWARD_PRIORITY", "Bridge"]

logger = logging.getLogger("relays.bridge")

#: Priority of the bridge's forwarding handlers: after a Debugger (1000), before the
#: application's handlers (0), so a refused or queued event runs none of them.
FORWARD_PRIORITY = 500
#: The kernel's own events never cross, whatever channel they are fired on.
_LOCAL_ONLY = (Registered, Unregistered, Started, Stopped, Signal, ExceptionEvent)
#: The bridge's own events stay in the process that fired them.
_OWN_EVENTS = (BridgeConnected, BridgeDisconnected, BridgeOverflow, BridgeRejected, ProcessExited)
_NAME = re.compile(r"^[A-Za-z0-9_-]{1,128}$")


def _redacted(url: str) -> str:
    """*url* without its password or token, for logs and events."""
    parts = urlsplit(url)
    if parts.username is None and parts.password is None:
        return url
    host = parts.hostname or ""
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, f"***@{host}", parts.path, parts.query, ""))


class _Outbox:
    """The frames fired but not sent yet; the bridge's one bounded buffer."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._frames: deque[Outgoing] = deque()
        self._ready = asyncio.Event()
        #: Set while nothing waits and nothing taken is unconfirmed.
        self._drained = asyncio.Event()
        self._drained.set()

    def __len__(self) -> int:
        return len(self._frames)

    def push(self, item: Outgoing) -> bool:
        """Queue *item*; False (and nothing queued) when the buffer is full."""
        if len(self._frames) >= self.limit:
            return False
        self._frames.append(item)
        self._ready.set()
        self._drained.clear()
        return True

    async def take(self, most: int) -> list[Outgoing]:
        """Up to *most* frames, in firing order; waits while there are none."""
        while not self._frames:
            self._ready.clear()
            await self._ready.wait()
        frames = self._frames
        return [frames.popleft() for _ in range(min(most, len(frames)))]

    def put_back(self, batch: list[Outgoing]) -> None:
        """Return an unsent *batch* to the front, in order (it may exceed the limit
        briefly: these were accepted already)."""
        self._frames.extendleft(reversed(batch))
        self._ready.set()

    def sent(self) -> None:
        """The frames taken last reached the broker."""
        if not self._frames:
            self._drained.set()

    async def drained(self) -> None:
        """Wait until every frame pushed so far reached the broker."""
        await self._drained.wait()


class _Link(BaseComponent):
    """Forwards the events of one channel to the bridge that owns it."""

    def __init__(self, bridge: Bridge, channel: str, route: Route) -> None:
        super().__init__(channel=channel)
        self.name = f"BridgeLink[{route}:{channel}]"
        self._bridge = bridge
        self._route = route

    @handler("*", priority=FORWARD_PRIORITY)
    def _forward(self, event: Event, *args: Any, **kwargs: Any) -> Any:
        if not self._bridge.crosses(event, self.channel):
            return None
        return self._bridge.send(event, self.channel, self._route)


class _RequestLink(_Link):
    """Sends each event as a request and gives its reply as the handler's result."""

    @handler("*", priority=FORWARD_PRIORITY)
    async def _forward(self, event: Event, *args: Any, **kwargs: Any) -> Any:
        if not self._bridge.crosses(event, self.channel):
            return None
        reply = self._bridge.send(event, self.channel, "request")
        return await reply


class Bridge(BaseComponent):
    """Share the events of *channels* with every process joined to the broker at *url*.

    *url* picks the engine: ``redis://host:6379/0`` (``rediss://`` for TLS) or
    ``nats://host:4222`` (``tls://`` for TLS; ``nats://user:password@`` or
    ``nats://token@`` for auth). Three delivery modes, by channel:

    - *channels* (broadcast): every process runs the event, at most once.
    - *work*: one process of *group* runs it, at least once: acknowledged after its
      handlers succeed, delivered again when they fail or the process dies, moved to
      the dead-letter stream after *max_attempts*.
    - *requests*: one process of *group* runs it and its result (or error) comes
      back: ``await self.call(event, "prices")``, within *reply_timeout* seconds.

    Only event classes in *events* (or registered later with
    ``bridge.events.register``) may cross. A process serves a work or request channel
    when its tree has handlers on it (*serve* forces it on or off).

    Limits: *max_buffered* outgoing frames while the broker is away,
    *max_message_size* bytes per frame, *max_in_flight* requests and work items
    handled at once, reconnecting after *reconnect_delay* seconds, doubling up to
    *max_reconnect_delay*.
    """

    channel = "bridge"

    def __init__(
        self,
        url: str,
        *,
        channels: Iterable[str] = (),
        work: Iterable[str] = (),
        requests: Iterable[str] = (),
        events: EventRegistry | Iterable[type[Event]] = (),
        group: str = "relays",
        namespace: str = "relays",
        format: Literal["auto", "json", "msgpack"] = "auto",
        serve: bool | None = None,
        reply_timeout: float = 30.0,
        max_attempts: int = 5,
        claim_after: float = 30.0,
        max_buffered: int = 10_000,
        max_message_size: int = DEFAULT_MAX_MESSAGE_SIZE,
        max_in_flight: int = 64,
        batch: int = 256,
        reconnect_delay: float = 0.1,
        max_reconnect_delay: float = 5.0,
        channel: Any = None,
    ) -> None:
        super().__init__(channel=channel)
        routes: dict[str, Route] = {}
        for route, names in (("broadcast", channels), ("work", work), ("request", requests)):
            for name in names:
                if not isinstance(name, str) or not _NAME.match(name):
                    raise ValueError(
                        f"a bridged channel is a name of letters, digits, '_' and '-', "
                        f"not {name!r}"
                    )
                if name in routes:
                    raise ValueError(
                        f"channel {name!r} is bridged twice ({routes[name]}, {route})"
                    )
                routes[name] = route  # type: ignore[assignment]
        for label, word in (("group", group), ("namespace", namespace)):
            if not _NAME.match(word):
                raise ValueError(
                    f"{label} is a name of letters, digits, '_' and '-', not {word!r}"
                )
        for label, number in (
            ("reply_timeout", reply_timeout),
            ("claim_after", claim_after),
            ("reconnect_delay", reconnect_delay),
            ("max_reconnect_delay", max_reconnect_delay),
        ):
            if not number > 0:
                raise ValueError(f"{label} is a number of seconds above 0, not {number!r}")
        for label, count in (
            ("max_attempts", max_attempts),
            ("max_buffered", max_buffered),
            ("max_in_flight", max_in_flight),
            ("batch", batch),
        ):
            if not isinstance(count, int) or count < 1:
                raise ValueError(f"{label} is an int from 1 up, not {count!r}")
        self.url = url
        self.events: EventRegistry = (
            events if isinstance(events, EventRegistry) else EventRegistry(events)
        )
        self.routes = routes
        self.group = group
        self.serve = serve
        self.reply_timeout = reply_timeout
        self.max_attempts = max_attempts
        self.max_reconnect_delay = max_reconnect_delay
        self.reconnect_delay = reconnect_delay
        self.max_in_flight = max_in_flight
        self.batch = batch
        self.codec = Codec(format, max_message_size=max_message_size)
        #: This process's name on the bridge: its inbox and its consumer name.
        self.node = uuid.uuid4().hex
        self._settings = EngineSettings(namespace, claim_after, max_attempts, batch)
        self._check_engine()  # a bad URL or a missing client fails here
        self._outbox = _Outbox(max_buffered)
        self._ids = itertools.count(1)
        self._waiting: dict[str, asyncio.Future[Any]] = {}
        self._slots: asyncio.Semaphore | None = None
        self._handling: set[asyncio.Task[None]] = set()
        self._task: asyncio.Task[None] | None = None
        #: Set by close(): a client library that turns our cancellation into its own
        #: error must not make the loop try again.
        self._closing = False
        self._connected = asyncio.Event()
        for name, route in routes.items():
            link = _RequestLink if route == "request" else _Link
            link(self, name, route).register(self)

    def __repr__(self) -> str:
        return f"<Bridge {_redacted(self.url)} {sorted(self.routes)}>"

    def _check_engine(self) -> None:
        """Fail now, in the constructor, when the engine cannot be made."""
        open_engine(self.url, self._settings)

    @property
    def connected(self) -> bool:
        """True while the bridge is connected to its broker."""
        return self._connected.is_set()

    @property
    def buffered(self) -> int:
        """Frames fired but not sent yet."""
        return len(self._outbox)

    async def wait_connected(self, timeout: float | None = None) -> None:
        """Wait until the bridge is connected (``TimeoutError`` after *timeout* s)."""
        await asyncio.wait_for(self._connected.wait(), timeout)

    # -- sending -------------------------------------------------------------------------

    def crosses(self, event: Event, channel: str) -> bool:
        """Whether *event*, seen on *channel*, is one this process must send."""
        return (
            channel in event.channels
            and getattr(event, "bridge_origin", None) is None
            and type(event).passes_event
            and not isinstance(event, _LOCAL_ONLY)
            and not isinstance(event, _OWN_EVENTS)
        )

    def send(self, event: Event, channel: str, route: Route) -> Any:
        """Encode and queue *event* for *channel*; for a request, the awaitable reply.

        Refusals stop the event (no local handler runs) and raise: the error is the
        event's outcome, so ``fire`` gives a failed value and ``call`` raises it.
        """
        if route != "broadcast":
            event.stop()  # it runs in exactly one process: the one the broker picks
        try:
            name, version = self.events.wire_name(event)
            identifier = f"{next(self._ids):x}"
            reply_to = self._inbox if route == "request" else None
            message = EventMessage(
                identifier,
                self.node,
                name,
                version,
                channel,
                list(event.args),
                dict(event.kwargs),
                reply_to,
            )
            frame = self.codec.encode_event(message)
        except BridgeError:
            event.stop()
            raise
        if not self._outbox.push(Outgoing(route, channel, frame)):
            event.stop()
            self.fire(BridgeOverflow(channel, event.name, len(self._outbox)))
            raise BridgeOverflowError(
                f"{event.name!r} was refused: {len(self._outbox)} frames wait for the broker "
                f"at {_redacted(self.url)} (max_buffered); it is unreachable or too slow"
            )
        if route == "request":
            return self._reply(identifier, event)
        return None

    @property
    def _inbox(self) -> str:
        return self.node

    async def _reply(self, identifier: str, event: Event) -> Any:
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._waiting[identifier] = future
        try:
            return await asyncio.wait_for(future, self.reply_timeout)
        except TimeoutError:
            raise BridgeTimeout(
                f"no reply to {event.name!r} within reply_timeout={self.reply_timeout} s: "
                "no process serves the channel, or the broker is away"
            ) from None
        finally:
            self._waiting.pop(identifier, None)

    # -- receiving (the engine calls these) ----------------------------------------------

    def on_broadcast(self, channel: str, frame: bytes) -> None:
        try:
            message = self.codec.decode(frame)
            if not isinstance(message, EventMessage) or message.channel != channel:
                raise BridgeProtocolError(f"not an event for channel {channel!r}")
            if message.origin == self.node:
                return  # our own, echoed back: it already ran here
            event = self.events.build(message.name, message.version, message.args, message.kwargs)
        except BridgeProtocolError as error:
            self._rejected(channel, str(error))
            return
        event.bridge_origin = message.origin  # type: ignore[attr-defined]
        self.fire(event, channel)

    def on_reply(self, frame: bytes) -> None:
        try:
            message = self.codec.decode(frame)
        except BridgeProtocolError as error:
            self._rejected("reply", str(error))
            return
        if not isinstance(message, ReplyMessage):
            self._rejected("reply", "an event arrived in this process's reply inbox")
            return
        future = self._waiting.get(message.id)
        if future is None or future.done():
            return  # its caller gave up (timeout) already
        if message.ok:
            future.set_result(message.result)
        else:
            future.set_exception(
                remote_error(message.error_type, message.error_message, message.traceback)
            )

    def on_ready(self) -> None:
        self._connected.set()
        self.fire(BridgeConnected(_redacted(self.url)))

    async def on_delivery(self, delivery: Delivery) -> None:
        if self._slots is None:
            self._slots = asyncio.Semaphore(self.max_in_flight)
        await self._slots.acquire()
        task = asyncio.get_running_loop().create_task(self._handle(delivery))
        self._handling.add(task)
        task.add_done_callback(self._handling.discard)

    async def _handle(self, delivery: Delivery) -> None:
        try:
            await self._run_delivery(delivery)
        except (ConnectionError, OSError, asyncio.CancelledError):
            pass  # not acknowledged: the broker hands it out again
        except Exception:  # an engine's failure to ack: the same, and worth a log
            logger.exception("bridge: could not settle a %s item", delivery.channel)
        finally:
            if self._slots is not None:
                self._slots.release()

    async def _run_delivery(self, delivery: Delivery) -> None:
        channel = delivery.channel
        try:
            message = self.codec.decode(delivery.frame)
            if not isinstance(message, EventMessage) or message.channel != channel:
                raise BridgeProtocolError(f"not an event for channel {channel!r}")
        except BridgeProtocolError as error:
            self._rejected(channel, str(error))
            await delivery.dead_letter(str(error))
            return
        if delivery.attempt > self.max_attempts:
            reason = f"delivered {delivery.attempt - 1} times without success (max_attempts)"
            await self._send_reply(message, None, BridgeError(reason))
            await delivery.dead_letter(reason)
            return
        try:
            event = self.events.build(message.name, message.version, message.args, message.kwargs)
        except BridgeProtocolError as error:
            self._rejected(channel, str(error))
            await self._send_reply(message, None, error)
            await delivery.dead_letter(str(error))
            return
        event.bridge_origin = message.origin  # type: ignore[attr-defined]
        try:
            result = await self.fire(event, channel)
        except Exception as error:
            if message.reply_to is not None:  # a request: the caller has its answer
                await self._send_reply(message, None, error)
                await delivery.ack()
            elif delivery.attempt >= self.max_attempts:
                await delivery.dead_letter(f"{type(error).__name__}: {error}")
            else:
                await delivery.retry()
            return
        await self._send_reply(message, result, None)
        await delivery.ack()

    async def _send_reply(
        self, message: EventMessage, result: Any, error: BaseException | None
    ) -> None:
        if message.reply_to is None:
            return
        if error is None:
            reply = ReplyMessage(message.id, True, result)
        else:
            text = "".join(traceback.format_exception(error))
            reply = ReplyMessage(message.id, False, None, type(error).__name__, str(error), text)
        frame = self.codec.encode_reply(reply)
        self._outbox.push(Outgoing("reply", message.reply_to, frame))

    def _rejected(self, channel: str, reason: str) -> None:
        logger.warning("bridge: rejected a message on %s: %s", channel, reason)
        self.fire(BridgeRejected(channel, reason))

    # -- the connection ------------------------------------------------------------------

    def _subscriptions(self) -> Subscriptions:
        def by(route: Route) -> tuple[str, ...]:
            return tuple(name for name, r in self.routes.items() if r == route)

        served = [name for name in by("request") + by("work") if self._serves(name)]
        return Subscriptions(
            broadcast=by("broadcast"),
            requests=tuple(name for name in by("request") if name in served),
            work=tuple(name for name in by("work") if name in served),
            group=self.group,
            queues=tuple(
                (route, name) for name, route in self.routes.items() if route != "broadcast"
            ),
        )

    def _serves(self, channel: str) -> bool:
        if self.serve is not None:
            return self.serve
        mine = set(self.walk())
        for h in self.root.handlers():
            where = h.channel if h.channel is not None else h.owner.channel
            if h.owner not in mine and where == channel:
                return True
        return False

    @handler("started", channel="*")
    def _on_started(self, component: BaseComponent) -> None:
        if component is self.root:
            self._open()

    @handler("registered", channel="*")
    def _on_registered(self, component: BaseComponent, parent: BaseComponent) -> None:
        if self.running and any(node is self for node in component.walk()):
            self._open()

    @handler("unregistered", channel="*")
    async def _on_unregistered(self, component: BaseComponent, parent: BaseComponent) -> None:
        if any(node is self for node in component.walk()):
            await self.close()  # out of the tree: its events no longer come here

    @handler("stopped", channel="*", priority=-100)
    async def _on_stopped(self, component: BaseComponent) -> None:
        await self.close()

    def _open(self) -> None:
        if self._task is None:
            self._closing = False
            self._task = asyncio.get_running_loop().create_task(self._keep_connected())

    async def close(self, timeout: float = 1.0) -> None:
        """Send what is buffered (for up to *timeout* s while connected), then
        disconnect. Called when the tree stops."""
        task, self._task = self._task, None
        if task is None:
            return
        self._closing = True
        if self.connected:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._outbox.drained(), timeout)
        task.cancel()
        for handling in list(self._handling):
            handling.cancel()
        await asyncio.gather(task, *self._handling, return_exceptions=True)
        for future in self._waiting.values():
            if not future.done():
                future.set_exception(BridgeError("the bridge closed before the reply came"))

    def _is_closing(self) -> bool:
        return self._closing

    async def _keep_connected(self) -> None:
        delay = self.reconnect_delay
        url = _redacted(self.url)
        while not self._closing:
            engine = open_engine(self.url, self._settings)
            try:
                await engine.connect(self.node)
                current = asyncio.current_task()
                if self._closing or (current is not None and current.cancelling()):
                    # redis-py may swallow a cancellation that lands in its connect
                    raise asyncio.CancelledError
                delay = self.reconnect_delay
                await self._serve(engine)
            except asyncio.CancelledError:
                raise
            except Exception as error:
                if self._is_closing():
                    return
                reason = f"{type(error).__name__}: {error}"
                logger.warning("bridge: %s unavailable (%s); again in %.1f s", url, reason, delay)
                self.fire(BridgeDisconnected(url, reason))
            finally:
                self._connected.clear()
                await engine.close()
            await asyncio.sleep(delay)
            delay = min(delay * 2, self.max_reconnect_delay)

    async def _serve(self, engine: Engine) -> None:
        """Send and receive until either fails; then the other is cancelled."""
        loop = asyncio.get_running_loop()
        sending = loop.create_task(self._send_loop(engine))
        receiving = loop.create_task(engine.receive(self._subscriptions(), self))
        try:
            done, _ = await asyncio.wait((sending, receiving), return_when="FIRST_COMPLETED")
        finally:
            for task in (sending, receiving):
                task.cancel()
            await asyncio.gather(sending, receiving, return_exceptions=True)
        for task in done:
            task.result()  # raise its error
        raise ConnectionError("the broker connection ended")

    async def _send_loop(self, engine: Engine) -> None:
        outbox = self._outbox
        # Not before the engine is receiving: on Redis that is when the queues' groups
        # exist, and an entry added before its group would be skipped by it.
        await self._connected.wait()
        while True:
            batch = await outbox.take(self.batch)
            try:
                await engine.send(batch)
            except BaseException:
                outbox.put_back(batch)
                raise
            outbox.sent()
