"""The process link: a subtree in a child process, joined to its parent over a pipe.

Theory of operation
-------------------
A :class:`ProcessLink` is a :class:`~relays_bridge.Bridge` whose "broker" is a Unix
socket pair to one child process, so everything the bridge does about channels holds
unchanged: links on the linked channels, the registry check of what arrives, refusals
where an event is fired, ``call`` returning the remote value or raising a
:class:`~relays_bridge.RemoteError` with the remote traceback as text.

Starting. When the parent's tree starts, the link makes the socket pair and starts
``python -m relays_bridge._child`` with the child's end as an inherited descriptor
and, on its command line, a JSON description: the component factory and the event
classes as ``module:name`` references, the channels, and the parent's ``sys.path`` (so
the child imports what the parent can). Nothing is pickled either way: the child
imports the factory and builds the subtree itself, and every frame on the pipe is a
:mod:`._pipe` frame carrying a codec frame. The child registers a :class:`ChildLink`
(the same bridge over its end) in the subtree, runs it, and each side writes a
*ready* frame once it reads; a side counts as connected when the other's arrives.

Ending. The pipe is the lifeline both ways. The child stops its tree and exits when it
reads end-of-file: the parent stopped, or died (the kernel closes its end). The parent
reads end-of-file when the child exits or dies; it then fails the calls still waiting
for a reply, waits for the exit status and fires ``process_exited`` on its channel. A
link does not start a new child by itself: a handler of ``process_exited`` decides.
When the parent's tree stops, the link closes its end and waits ``stop_timeout``
seconds for the child to exit before killing it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import signal
import socket
import sys
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Literal

from relays import BaseComponent, Event

from ._bridge import Bridge
from ._codec import DEFAULT_MAX_MESSAGE_SIZE
from ._engine import Delivery, Engine, Outgoing, Receiver, Subscriptions
from ._errors import BridgeError
from ._events import ProcessExited
from ._pipe import PipeDecoder, encode_pipe_frame
from ._rebuild import recipe_of
from ._registry import EventRegistry

__all__ = ["ChildLink", "PipeEngine", "ProcessLink", "link_for", "spawn"]

logger = logging.getLogger("relays.bridge")

#: Bytes read from the pipe at a time.
_READ_SIZE = 256 * 1024
#: The pipe frame kind of each route; a work item has one peer to go to, so it travels
#: as a request whose outcome nobody waits for.
_KIND_OF_ROUTE = {
    "broadcast": "broadcast",
    "request": "request",
    "work": "request",
    "reply": "reply",
}


class _PipeDelivery(Delivery):
    """A request from the other end: nothing to acknowledge (one peer, at most once)."""

    async def ack(self) -> None:
        pass

    async def retry(self) -> None:
        pass

    async def dead_letter(self, reason: str) -> None:
        pass  # the caller got the error as the reply


class PipeEngine(Engine):
    """A bridge's connection to the other end of a process link's socket pair."""

    def __init__(self, sock: socket.socket, max_message_size: int) -> None:
        self._socket: socket.socket | None = sock
        self._max_message_size = max_message_size
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def connect(self, node: str) -> None:
        self.inbox = node
        sock = self._socket
        if sock is None:
            raise ConnectionError("the pipe of this process link is closed")
        self._reader, self._writer = await asyncio.open_unix_connection(sock=sock)

    async def send(self, batch: Sequence[Outgoing]) -> None:
        writer = self._writer
        assert writer is not None
        writer.writelines(
            encode_pipe_frame(_KIND_OF_ROUTE[item.route], item.channel, item.frame)
            for item in batch
        )
        await writer.drain()

    async def receive(self, subscriptions: Subscriptions, receiver: Receiver) -> None:
        reader, writer = self._reader, self._writer
        assert reader is not None
        assert writer is not None
        writer.write(encode_pipe_frame("ready", ""))
        await writer.drain()
        decoder = PipeDecoder(self._max_message_size)
        while True:
            data = await reader.read(_READ_SIZE)
            if not data:
                raise ConnectionError("the other end of the process link closed the pipe")
            for frame in decoder.feed(data):
                if frame.kind == "ready":
                    receiver.on_ready()
                elif frame.kind == "broadcast":
                    receiver.on_broadcast(frame.channel, frame.payload)
                elif frame.kind == "reply":
                    receiver.on_reply(frame.payload)
                else:
                    await receiver.on_delivery(_PipeDelivery(frame.channel, frame.payload, 1))

    async def close(self) -> None:
        writer, self._writer = self._writer, None
        sock, self._socket = self._socket, None
        if writer is not None:
            writer.close()
            with contextlib.suppress(Exception):  # a broken pipe closes badly
                await writer.wait_closed()
        elif sock is not None:
            sock.close()


def _reference(thing: Any) -> str:
    """``module:qualname`` of a class or function the child can import."""
    if isinstance(thing, str):
        if ":" not in thing:
            raise ValueError(f"a factory reference is 'package.module:name', not {thing!r}")
        return thing
    module = getattr(thing, "__module__", None)
    qualname = getattr(thing, "__qualname__", "")
    if module is None or not qualname or "<locals>" in qualname or "<lambda>" in qualname:
        raise ValueError(
            f"{thing!r} cannot be found by the child process: pass a class or function "
            "defined at the top level of a module (or its 'package.module:name')"
        )
    return f"{module}:{qualname}"


class ProcessLink(Bridge):
    """Run the subtree *factory* builds in a child process, linked to this tree.

    *factory* is a component class or a function returning a component, defined at the
    top level of a module (or its ``"package.module:name"``); the child calls it with
    *args* and *kwargs* (plain data: they travel as JSON). Events on *channels* cross
    both ways and run on both sides (broadcast); an event fired on a *requests* channel
    runs on the other side only, and ``call`` returns its value or raises its error as
    a :class:`~relays_bridge.RemoteError` with the remote traceback. Only classes in
    *events* cross; the child registers the same ones.

    When the child exits or dies, waiting calls fail with
    :class:`~relays_bridge.BridgeError` and ``process_exited(name, pid, exit_code)``
    is fired on this link's channel (``"bridge"``). The child exits when this tree
    stops (after *stop_timeout* seconds it is killed) and when this process dies.
    """

    def __init__(
        self,
        factory: Callable[..., BaseComponent] | str,
        *,
        args: Sequence[Any] = (),
        kwargs: dict[str, Any] | None = None,
        channels: Iterable[str] = (),
        requests: Iterable[str] = (),
        events: EventRegistry | Iterable[type[Event]] = (),
        format: Literal["auto", "json", "msgpack"] = "json",
        reply_timeout: float = 30.0,
        max_buffered: int = 10_000,
        max_message_size: int = DEFAULT_MAX_MESSAGE_SIZE,
        max_in_flight: int = 64,
        stop_timeout: float = 5.0,
        python: str = sys.executable,
        channel: Any = None,
    ) -> None:
        self.factory = _reference(factory)
        if not stop_timeout > 0:
            raise ValueError(f"stop_timeout is a number of seconds above 0, not {stop_timeout!r}")
        self.stop_timeout = stop_timeout
        self.python = python
        self._arguments = json.dumps({"args": list(args), "kwargs": dict(kwargs or {})})
        self._max_message_size = max_message_size
        self._process: asyncio.subprocess.Process | None = None
        #: The child's exit status once it has exited (None before, or while it runs).
        self.exit_code: int | None = None
        super().__init__(
            f"process:{self.factory}",
            channels=channels,
            requests=requests,
            events=events,
            format=format,
            serve=True,
            reply_timeout=reply_timeout,
            max_buffered=max_buffered,
            max_message_size=max_message_size,
            max_in_flight=max_in_flight,
            channel=channel,
        )
        self._main_path = _main_path(self.factory, self.events)

    def __repr__(self) -> str:
        return f"<ProcessLink {self.factory} {sorted(self.routes)}>"

    def _check_engine(self) -> None:
        pass  # nothing to check until the child starts

    @property
    def pid(self) -> int | None:
        """The child's process id while it runs."""
        process = self._process
        return process.pid if process is not None and process.returncode is None else None

    def _description(self) -> str:
        return json.dumps(
            {
                "factory": self.factory,
                "arguments": json.loads(self._arguments),
                "main_path": self._main_path,
                "events": [
                    [_reference(event_class), version]
                    for event_class, version in self.events.classes()
                ],
                "channels": [n for n, route in self.routes.items() if route == "broadcast"],
                "requests": [n for n, route in self.routes.items() if route != "broadcast"],
                "format": self.codec.format,
                "reply_timeout": self.reply_timeout,
                "max_message_size": self._max_message_size,
                "max_in_flight": self.max_in_flight,
                "sys_path": [entry for entry in sys.path if entry],
            }
        )

    async def _spawn(self) -> PipeEngine:
        mine, theirs = socket.socketpair()
        try:
            self._process = await asyncio.create_subprocess_exec(
                self.python,
                "-m",
                "relays_bridge._child",
                str(theirs.fileno()),
                self._description(),
                pass_fds=(theirs.fileno(),),
                stdin=asyncio.subprocess.DEVNULL,
            )
        except BaseException:
            mine.close()
            raise
        finally:
            theirs.close()  # the child has its own copy; ours would hide its exit
        return PipeEngine(mine, self._max_message_size)

    async def _keep_connected(self) -> None:
        """Start the child, serve the pipe until it ends, then report the exit."""
        process: asyncio.subprocess.Process | None = None
        reason = ""
        try:
            engine = await self._spawn()
            process = self._process
            try:
                await engine.connect(self.node)
                await self._serve(engine)
            except asyncio.CancelledError:
                raise
            except Exception as error:
                reason = f"{type(error).__name__}: {error}"
            finally:
                self._connected.clear()
                await engine.close()
        except asyncio.CancelledError:
            if process is not None:
                self.exit_code = await _ended(process, self.stop_timeout)
            raise
        if process is None:
            return
        code = self.exit_code = await _ended(process, self.stop_timeout)
        self._fail_waiting(f"the child process {process.pid} exited ({code}) before the reply")
        if not self._is_closing():
            logger.warning(
                "bridge: the child process %d of %s exited with %s (%s)",
                process.pid,
                self.factory,
                code,
                reason,
            )
            self.fire(ProcessExited(self.factory, process.pid, code))

    def _fail_waiting(self, reason: str) -> None:
        for future in list(self._waiting.values()):
            if not future.done():
                future.set_exception(BridgeError(reason))


async def _ended(process: asyncio.subprocess.Process, timeout: float) -> int:
    """The exit status of *process*, killing it when it has not exited in *timeout* s."""
    try:
        return await asyncio.wait_for(process.wait(), timeout)
    except TimeoutError:
        with contextlib.suppress(ProcessLookupError):
            process.send_signal(signal.SIGKILL)
        return await process.wait()


def _main_path(factory: str, events: EventRegistry) -> str | None:
    """The parent's main script, when the factory or an event class is defined in it
    (its module is ``__main__``, which the child cannot import by that name)."""
    modules = {factory.partition(":")[0]}
    modules.update(event_class.__module__ for event_class, _ in events.classes())
    if "__main__" not in modules:
        return None
    main = sys.modules["__main__"]
    path: str | None = getattr(main, "__file__", None)
    if path is None:
        raise ValueError(
            "the factory or an event class is defined in an interactive session: "
            "define it in a module the child process can import"
        )
    return os.path.abspath(path)


class ChildLink(Bridge):
    """The child's end of a :class:`ProcessLink` (made by ``relays_bridge._child``):
    the same bridge over the inherited socket; it stops the child's tree when the pipe
    ends, which is how the child follows its parent."""

    def __init__(self, sock: socket.socket, **options: Any) -> None:
        self._pipe_socket = sock
        super().__init__("process:parent", serve=True, **options)

    def _check_engine(self) -> None:
        pass

    async def _keep_connected(self) -> None:
        engine = PipeEngine(self._pipe_socket, self.codec.max_message_size)
        try:
            await engine.connect(self.node)
            await self._serve(engine)
        except asyncio.CancelledError:
            raise
        except Exception as error:
            logger.debug("bridge: the pipe to the parent ended: %s", error)
        finally:
            self._connected.clear()
            await engine.close()
        if not self._is_closing():
            self.root.stop()  # the parent is gone: so is this process


def spawn(
    factory: Callable[..., BaseComponent] | str, *, link: BaseComponent, **options: Any
) -> ProcessLink:
    """Run *factory*'s subtree in a child process linked to *link*'s tree; the
    :class:`ProcessLink` is registered in *link* and returned (*options* as there).

    The child starts when *link*'s tree runs (at once if it already does).
    """
    return ProcessLink(factory, **options).register(link)


def link_for(component: BaseComponent, options: dict[str, Any]) -> ProcessLink:
    """The link that runs *component*'s subtree in a child process, for
    ``component.start(process=True, link=parent, **options)`` (the kernel registers it).

    The child rebuilds the component by the rule of :func:`~relays_bridge.rebuildable`
    (:class:`~relays_bridge.NotRebuildable` otherwise). *options* are
    :class:`ProcessLink`'s; without ``channels=`` or ``requests=``, the component's own
    channel is linked as a request channel, so ``await component.call(event)`` runs in
    the child and gives its value back.
    """
    for taken in ("factory", "args", "kwargs"):
        if taken in options:
            raise TypeError(
                f"start(process=True) takes no {taken}=: the child rebuilds "
                f"{type(component).__qualname__} from this instance (see "
                "relays_bridge.rebuildable); use relays_bridge.spawn() to name a factory"
            )
    recipe = recipe_of(component)
    channel = component.channel
    linked = "channels" in options or "requests" in options
    if not linked and isinstance(channel, str) and channel != "*":
        options = {**options, "requests": [channel]}
    return ProcessLink(recipe.factory, args=recipe.args, kwargs=recipe.kwargs, **options)
