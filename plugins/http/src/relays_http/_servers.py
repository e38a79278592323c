"""``Server`` and ``BaseServer``: a transport and the HTTP protocol, as one component.

A server that cannot listen (the port is taken, a privileged port, an address this
machine does not have) is of no use to anyone: the transport reports it with an
``error(None, error)`` event, and the server turns it into :class:`BindError`,
stops its tree at once and raises it from :meth:`BaseServer.run` and
:meth:`BaseServer.wait_ready`, so a process exits non-zero instead of running with
no listener.

Whoever waits for the listener learns the outcome the moment there is one: the
transport's ``ready`` (listening), its bind error, or the tree stopping before either.
A waiter on the server's own loop awaits :meth:`BaseServer.wait_ready`; a waiter in
another thread (a test that ran the tree with ``start()``) blocks in
:meth:`BaseServer.wait_listening` on a :class:`threading.Event` the server sets at that
same moment, never polling.
"""

from __future__ import annotations

import asyncio
import errno
import socket
import threading
from typing import Any

from relays import BaseComponent, find_transport, handler
from relays.transports import parse_address

from ._dispatcher import Dispatcher
from ._limits import Limits
from ._server import HTTP

__all__ = ["BaseServer", "BindError", "Server"]

#: Where a server listens when given no address: loopback only, so nothing is exposed
#: by accident.
DEFAULT_BIND = "tcp://127.0.0.1:8000"
#: Seconds the system may hold a new connection waiting for its first bytes before
#: handing it over anyway (the transport's ``defer_accept``).
DEFER_ACCEPT = 1.0
#: Seconds a stopping server gives the responses in flight.
DEFAULT_SHUTDOWN_TIMEOUT = 4.0
#: Seconds :meth:`BaseServer.wait_listening` waits, by default, for the listener.
LISTEN_TIMEOUT = 10.0


#: What to do about the usual causes of a failed bind, by errno.
_BIND_ADVICE = {
    errno.EADDRINUSE: "another process listens there: stop it, or choose another port",
    errno.EACCES: "ports below 1024 need privileges: choose a port of 1024 or more",
    errno.EADDRNOTAVAIL: "this machine has no such address: listen on one of its own",
}


class BindError(OSError):
    """A server could not listen on its address; ``errno`` is the system's reason.

    Raised by :meth:`BaseServer.run` and :meth:`BaseServer.wait_ready`; ``relays
    serve`` prints it and exits with status 1.
    """

    def __init__(self, address: Any, cause: BaseException) -> None:
        reason = cause.strerror if isinstance(cause, OSError) and cause.strerror else cause
        code = cause.errno if isinstance(cause, OSError) else None
        message = f"cannot listen on {_shown(address)}: {reason}"
        advice = _BIND_ADVICE.get(code) if code is not None else None
        if advice:
            message = f"{message} ({advice})"
        super().__init__(code, message)
        #: The address the server was given.
        self.address = address
        #: The error the transport met.
        self.cause = cause
        self.message = message

    def __str__(self) -> str:
        return self.message


#: URL schemes people write where a transport address belongs, and the transport meant.
_URL_SCHEMES = {"http": "tcp", "https": "tls", "ws": "tcp", "wss": "tls"}


def _transport_advice(bind: str, scheme: str) -> str:
    """What to write instead of an ``http://`` URL as a server's address."""
    suggested = _URL_SCHEMES[scheme] + bind[len(scheme) :].rstrip("/")
    tls = " (with certfile= and keyfile=)" if _URL_SCHEMES[scheme] == "tls" else ""
    return (
        f"a server listens on a transport address, not a {scheme}:// URL: use {suggested!r}" + tls
    )


def _shown(address: Any) -> str:
    if isinstance(address, tuple) and len(address) == 2:
        host = f"[{address[0]}]" if ":" in str(address[0]) else address[0]
        return f"{host}:{address[1]}"
    if isinstance(address, socket.socket):
        return repr(address)
    return str(address)


class BaseServer(BaseComponent):
    """An HTTP server without a dispatcher: handle ``request`` events yourself.

    *bind* is a transport address: ``"tcp://127.0.0.1:8000"``, ``"unix:///run/app.sock"``,
    ``"tls://0.0.0.0:8443"`` (with *certfile*/*keyfile*), a ``(host, port)`` tuple, or an
    already bound :class:`socket.socket`; an ``http://`` or ``https://`` URL is refused
    with a :class:`ValueError` naming the ``tcp://`` or ``tls://`` address meant. The
    transport is found through the plugins'
    ``relays_transport`` hook, and *transport_options* go to it unchanged (``certfile``,
    ``keyfile``, ``ssl_context``, ``reuse_port``, ...). Pass *transport* to use a
    transport component you made yourself (a :class:`relays.testing.MemoryTransport` in
    tests). Every component of the server, and the ``request`` events it fires, use
    *channel*. When the tree stops, responses in flight get *shutdown_timeout* seconds
    to finish before they are cut short. When it cannot listen, it stops the tree and
    :meth:`run` raises :class:`BindError`.
    """

    channel = "web"

    def __init__(
        self,
        bind: Any = DEFAULT_BIND,
        *,
        channel: Any = "web",
        limits: Limits | None = None,
        debug: bool = False,
        shutdown_timeout: float = DEFAULT_SHUTDOWN_TIMEOUT,
        transport: BaseComponent | None = None,
        **transport_options: Any,
    ) -> None:
        super().__init__(channel=channel)
        if not 0 <= shutdown_timeout < float("inf"):
            raise ValueError(
                f"shutdown_timeout must be 0 or more seconds, not {shutdown_timeout!r}"
            )
        if transport is None:
            scheme = "tcp" if isinstance(bind, socket.socket) else parse_address(bind)[0]
            if scheme in _URL_SCHEMES:
                raise ValueError(_transport_advice(bind, scheme))
            factory = find_transport(scheme).server
            if factory is None:
                raise ValueError(f"transport {scheme!r} cannot listen; use a stream transport")
            transport = factory(bind, channel=channel, **transport_options)
        elif transport_options:
            raise TypeError(
                "transport options are for the transport found from bind, not "
                f"for a given transport: {sorted(transport_options)}"
            )
        # HTTP clients speak first: a transport that can hold new connections until
        # their first bytes arrive, and was not told otherwise, does (see TCPServer).
        if getattr(transport, "defer_accept", 0) is None:
            transport.defer_accept = DEFER_ACCEPT  # type: ignore[attr-defined]
        #: The transport component (a TCP, TLS, UNIX or in-memory server).
        self.transport = transport.register(self)
        #: The HTTP protocol component.
        self.http = HTTP(
            channel=channel, limits=limits, debug=debug, shutdown_timeout=shutdown_timeout
        ).register(self)
        #: Where the transport listens, once ready: ``(host, port)`` or a path.
        self.address: Any = None
        #: Why the transport could not listen (the tree stopped), or None.
        self.bind_error: BindError | None = None
        self._bind = bind
        self._ready: asyncio.Future[Any] | None = None
        # Set once the listener's fate is known (listening, a bind error, or the tree
        # stopped first): what wait_listening() blocks on from other threads.
        self._listen_outcome = threading.Event()

    @handler("ready")
    def _on_ready(self, server: Any, address: Any) -> None:
        if server is not self.transport:
            return
        self.address = address
        self._listen_outcome.set()
        if self._ready is not None and not self._ready.done():
            self._ready.set_result(address)

    @handler("stopped", channel="*", priority=-100)
    def _on_stopped(self, component: Any) -> None:
        if component is self.root:
            self._listen_outcome.set()  # a waiter must not wait out its bound for nothing

    @handler("error")
    def _on_error(self, sock: Any, error: BaseException) -> None:
        # ``error(None, error)`` before ``ready``: the transport could not listen.
        if sock is not None or self.address is not None or self.bind_error is not None:
            return
        if getattr(self.transport, "listening", False):
            return
        self.bind_error = BindError(self._bind, error)
        self._listen_outcome.set()
        if self._ready is not None and not self._ready.done():
            self._ready.set_exception(self.bind_error)
        self.root.stop()

    async def wait_ready(self, timeout: float | None = 10.0) -> Any:
        """Wait until the transport listens; return its address (the real port if 0).

        Raises :class:`BindError` when it cannot listen.
        """
        if self.address is not None:
            return self.address
        if self.bind_error is not None:
            raise self.bind_error
        if self._ready is None:
            self._ready = asyncio.get_running_loop().create_future()
        return await asyncio.wait_for(asyncio.shield(self._ready), timeout)

    def wait_listening(self, timeout: float = LISTEN_TIMEOUT) -> Any:
        """Block this thread until the server listens; return its address (the real port
        if 0). For a thread other than the server's loop: a test, or a program that ran
        the tree with ``start()``; on the loop itself, ``await`` :meth:`wait_ready`.

        Returns as soon as the transport reports ``ready``, when its port accepts.
        Raises :class:`BindError` as soon as it cannot listen, :class:`RuntimeError` if
        the tree stops before it listens, and :class:`TimeoutError`, naming the address
        and the wait, after *timeout* seconds without any of these.
        """
        if not self._listen_outcome.wait(timeout):
            raise TimeoutError(
                f"{self!r} did not report listening on {_shown(self._bind)} within "
                f"{timeout:g} s (waited for its transport's ready event; is the tree "
                "running? start() it first)"
            )
        if self.address is not None:
            return self.address
        if self.bind_error is not None:
            raise self.bind_error
        raise RuntimeError(f"{self!r} stopped before it listened on {_shown(self._bind)}")

    def run(self, *, use_uvloop: bool | None = None, freeze_gc: bool | None = None) -> None:
        """Run the tree until stopped (see :meth:`relays.BaseComponent.run`).

        Raises :class:`BindError`, once the tree has stopped, when the server could not
        listen.
        """
        with self.http.stopping_the_process(getattr(self.transport, "stop_listening", None)):
            super().run(use_uvloop=use_uvloop, freeze_gc=freeze_gc)
        if self.bind_error is not None:
            raise self.bind_error

    @property
    def host(self) -> str | None:
        """The host listened on, for IP transports."""
        return str(self.address[0]) if isinstance(self.address, tuple) else None

    @property
    def port(self) -> int | None:
        """The port listened on (the real one when bound to 0), for IP transports."""
        return int(self.address[1]) if isinstance(self.address, tuple) else None

    @property
    def url(self) -> str | None:
        """``http://host:port/`` once listening on IP, for logs and tests."""
        if not isinstance(self.address, tuple):
            return None
        scheme = "https" if getattr(self.transport, "secure", False) else "http"
        host = self.host or "127.0.0.1"
        if host in ("0.0.0.0", "::"):
            host = "127.0.0.1"
        if ":" in host:
            host = f"[{host}]"
        return f"{scheme}://{host}:{self.port}/"


class Server(BaseServer):
    """An HTTP server with a :class:`~relays_http.Dispatcher`: ``Server(8000) + Root()``.

    As in circuits.web, controllers registered under it are served at once (a
    ``Root(Controller)`` at ``"/"``), and plain components that answer
    ``request(request, response)`` on its channel (``"web"``) get every request no
    controller takes. A request nobody answers gets a 404. Takes the arguments of
    :class:`BaseServer`; use :class:`BaseServer` for a server without a dispatcher.
    """

    def __init__(self, bind: Any = DEFAULT_BIND, **options: Any) -> None:
        super().__init__(bind, **options)
        #: The built-in dispatcher. It stands aside when you register a
        #: :class:`~relays_http.Dispatcher` of your own on the same channel.
        self.dispatcher = Dispatcher(channel=self.channel, builtin=True).register(self)
