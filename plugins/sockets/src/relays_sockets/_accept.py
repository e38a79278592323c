"""Accepting plain TCP connections on asyncio's selector loops without a task each.

Why
---
asyncio's own server accepts every connection through a task: a coroutine that makes
the transport and then waits for it to be ready, so that a TLS handshake can fail in
one place. A plain connection has no handshake, yet pays for the task, its coroutine,
the future it waits on and two more trips around the loop. For a short connection
(an HTTP request with ``Connection: close``) that is a fifth of everything the loop
does for it: about 46k of the ~226k instructions a bare asyncio protocol costs.

How
---
On asyncio's selector loops (its default loops on Unix), a plain TCP server's listening
sockets are served by a :class:`Listener`: asyncio binds them (every address family,
every option, as ``create_server`` always does) without starting to serve, and we take
over a duplicate of each. When one is readable, :meth:`Listener._ready` accepts up to
``backlog`` connections and gives each our own transport at once
(:class:`~relays_sockets._transport.SocketTransport`, which calls ``connection_made``
right away). With deferred accepting (``TCPServer(defer_accept=...)``) each connection
is also read and served in that step, so a batch is only ``EAGER_BATCH`` long. Running
out of file descriptors or memory stops accepting on that socket for a second (logged),
as asyncio does, instead of spinning on a socket that stays readable. The accepted
socket is the C-level :class:`_socket.socket`, which :class:`socket.socket` only wraps
in Python (its ``family`` and ``type`` then read as plain ints): the transport needs
nothing more, and the wrapper cost about 28k instructions per connection.

On other loops (uvloop, the proactor loop) and for TLS, servers keep asyncio's server
and transports, and behave the same.
"""

from __future__ import annotations

import _socket
import asyncio
import errno
import logging
import socket
from collections.abc import Callable

from ._transport import UNKNOWN, SocketTransport

__all__ = ["Listener", "can_listen"]

logger = logging.getLogger("relays.sockets")

#: Seconds a listening socket rests after the system ran out of descriptors or memory.
ACCEPT_RETRY_DELAY = 1.0
#: Connections accepted per readiness when each is read at once (deferred accept).
EAGER_BATCH = 32
#: What an accepted descriptor becomes (see ``Listener._ready``).
_new_socket = _socket.socket
_WILDCARDS = frozenset({"0.0.0.0", "::", ""})
_OUT_OF_RESOURCES = frozenset({errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM})


def can_listen(loop: asyncio.AbstractEventLoop) -> bool:
    """Whether *loop* is one of asyncio's selector loops, whose own transports ours
    replaces (uvloop's are already lean, and the proactor loop has no readers)."""
    return isinstance(loop, asyncio.selector_events.BaseSelectorEventLoop)


class Listener(asyncio.AbstractServer):
    """Listening sockets whose connections we accept ourselves (see the module's docstring).

    It stands where the :class:`asyncio.Server` it takes over would, serving from the
    start: ``sockets``, ``close()``, ``wait_closed()``.
    """

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        server: asyncio.AbstractServer,
        factory: Callable[[], asyncio.BaseProtocol],
        backlog: int,
        *,
        eager: bool = False,
    ) -> None:
        self._loop = loop
        # The system accepts only once the peer has sent something (deferred accept):
        # each new connection reads at once (see SocketTransport).
        self._eager = eager
        self._factory = factory
        self._backlog = backlog
        # Duplicates: closing asyncio's (never started) server then closes its own.
        self._sockets = [listening.dup() for listening in getattr(server, "sockets", ())]
        server.close()
        self._make_transport = SocketTransport
        # A connection's own address is its listener's unless that is a wildcard.
        self._locals = {
            listening: name
            for listening in self._sockets
            if (name := listening.getsockname())[0] not in _WILDCARDS
        }
        self._closed = False
        for listening in self._sockets:
            listening.setblocking(False)
            listening.listen(backlog)  # asyncio listens when it starts serving: never here
            loop.add_reader(listening.fileno(), self._ready, listening)

    @property
    def sockets(self) -> tuple[socket.socket, ...]:
        return tuple(self._sockets)

    def close(self) -> None:
        """Stop accepting and close the listening sockets (connections stay open)."""
        if self._closed:
            return
        self._closed = True
        for listening in self._sockets:
            self._loop.remove_reader(listening.fileno())
            listening.close()

    async def wait_closed(self) -> None:
        """Nothing to wait for: closing is immediate (the server tracks connections)."""

    def get_loop(self) -> asyncio.AbstractEventLoop:
        return self._loop

    def is_serving(self) -> bool:
        return not self._closed

    async def start_serving(self) -> None:
        """Serving starts when the listener is made."""

    async def serve_forever(self) -> None:
        raise NotImplementedError("a Listener is served by its component, not awaited")

    def _ready(self, listening: socket.socket) -> None:
        make_transport = self._make_transport
        loop = self._loop
        factory = self._factory
        new_socket = _new_socket
        # The connection is the C-level socket (the base of socket.socket): the Python
        # layer's accept and its enum-typed family and type, asked again by asyncio's
        # transport, cost more than everything else we do per connection together.
        family, kind, proto = listening.family, listening.type, listening.proto
        local = self._locals.get(listening, UNKNOWN)
        eager = self._eager
        # An eager connection is read, answered and closed before the next is taken,
        # while its close completes (connection_lost, ``disconnect``) on a later loop
        # turn: a short batch lets those turns come, rather than holding a backlog's
        # worth of finished connections open (and counted by the protocol) at once.
        for _ in range(EAGER_BATCH if eager else self._backlog):
            try:
                fd, address = listening._accept()  # type: ignore[attr-defined]
                connection = new_socket(family, kind, proto, fd)
            except (BlockingIOError, InterruptedError):
                return  # nothing more to accept now
            except ConnectionAbortedError:
                continue  # the peer gave up while queued: take the next one
            except OSError as error:
                if error.errno not in _OUT_OF_RESOURCES:
                    raise  # the loop logs it; the reader stays
                self._rest(listening, error)
                return
            connection.setblocking(False)
            try:
                make_transport(loop, connection, factory(), address, local, eager=eager)
            except Exception:
                logger.exception("could not set up the connection from %r", address)
                connection.close()

    def _rest(self, listening: socket.socket, error: OSError) -> None:
        logger.error("accepting on %r paused for %s s: %s", listening, ACCEPT_RETRY_DELAY, error)
        self._loop.remove_reader(listening.fileno())
        self._loop.call_later(ACCEPT_RETRY_DELAY, self._resume, listening)

    def _resume(self, listening: socket.socket) -> None:
        if not self._closed:
            self._loop.add_reader(listening.fileno(), self._ready, listening)
