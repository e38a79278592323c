"""One client connection: the core's :class:`ClientConnection` driven by an asyncio protocol.

Theory of operation
===================

The protocol object is the only owner of the socket and of the core. Bytes read are
fed to the core in ``data_received`` and wake the one task waiting for an event; the
task then asks the core for events until it needs data again. There is no queue of
chunks: the core's buffer is the queue, and reading from the socket pauses while it
holds more than :data:`HIGH_WATER` bytes, so a caller that reads a body slowly bounds
what we keep, and TCP's window slows the server down instead.

Writes go straight to the transport; :meth:`HTTPConnection.drain` waits while the
transport says its buffer is full (``pause_writing``), which is how a streamed upload
gets back-pressure.

Timeouts are one timer per wait (``loop.call_later`` on the waiter future), not a
task or an ``asyncio.timeout`` block per read: a response usually arrives in one read,
and the timer costs less than either.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
from asyncio import FIRST_COMPLETED
from typing import Any, cast

from .._protocol import NEED_DATA, Data, EndOfMessage
from .._protocol import RemoteProtocolError as CoreRemoteProtocolError
from .._protocol._client import ClientConnection, ResponseHead, ResponseLimits
from .._protocol._client import ServerDisconnected as CoreServerDisconnected
from ._errors import (
    ConnectError,
    ConnectTimeout,
    ProxyError,
    ReadTimeout,
    RemoteProtocolError,
    ResponseTooLarge,
    ServerDisconnected,
    TLSError,
    WriteTimeout,
)
from ._url import Origin, Route

__all__ = ["HIGH_WATER", "HTTPConnection", "happy_eyeballs", "open_connection"]

#: Bytes buffered in the core beyond which reading from the socket pauses.
HIGH_WATER = 256 * 1024


def _expire(waiter: asyncio.Future[None], origin: Origin, which: str, timeout: float) -> None:
    """Fail ``waiter`` with the timeout error (built only when one expires)."""
    if waiter.done():
        return
    if which == "read":
        error: Exception = ReadTimeout(
            f"{origin} sent nothing for {timeout} s (Timeouts.read); raise the timeout if "
            "the server is just slow"
        )
    else:
        error = WriteTimeout(
            f"{origin} took no data for {timeout} s (Timeouts.write): the server is not "
            "reading; raise the timeout if it is just slow"
        )
    waiter.set_exception(error)


class HTTPConnection(asyncio.Protocol):
    """A connection to one origin; used by one request at a time (the pool sees to it)."""

    def __init__(self, origin: Origin, limits: ResponseLimits) -> None:
        #: Where this connection goes (the proxy, for one through a proxy).
        self.origin = origin
        #: The pool's key for it: the origin, or the proxy route (set by the pool's owner).
        self.route: Route = origin
        self._limits = limits
        self._core = ClientConnection(limits)
        self._transport: asyncio.Transport | None = None
        self._waiter: asyncio.Future[None] | None = None
        self._drain_waiter: asyncio.Future[None] | None = None
        self._write_paused = False
        self._read_paused = False
        self._lost = False
        self._tls_failure: ssl.SSLError | None = None
        #: How many exchanges ended on this connection (0: fresh).
        self.exchanges = 0
        #: The loop time at which it went back to the pool (for idle expiry).
        self.idle_since = 0.0

    # -- asyncio.Protocol ---------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # A cast, not an isinstance check: uvloop's transports do not derive from asyncio's.
        self._transport = cast(asyncio.Transport, transport)
        sock = transport.get_extra_info("socket")
        if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
            # Nagle would hold a small request body back for the server's delayed ACK.
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def data_received(self, data: bytes) -> None:
        core = self._core
        core.receive_data(data)
        waiter = self._waiter
        if waiter is not None:
            self._waiter = None
            if not waiter.done():
                waiter.set_result(None)
        if core.buffered_size > HIGH_WATER and not self._read_paused:
            self._read_paused = True
            assert self._transport is not None
            self._transport.pause_reading()

    def eof_received(self) -> bool:
        self._end_of_input()
        return False  # close our side too: we never half-close on purpose

    def connection_lost(self, exc: Exception | None) -> None:
        self._lost = True
        if isinstance(exc, ssl.SSLError):
            self._tls_failure = exc  # an alert after the handshake (no client cert...)
        self._end_of_input()
        drain = self._drain_waiter
        if drain is not None and not drain.done():
            drain.set_exception(ServerDisconnected(f"{self.origin} closed the connection"))

    def pause_writing(self) -> None:
        self._write_paused = True

    def resume_writing(self) -> None:
        self._write_paused = False
        drain = self._drain_waiter
        if drain is not None and not drain.done():
            drain.set_result(None)

    def _end_of_input(self) -> None:
        if not self._core.trailing_data[1]:
            self._core.receive_data(b"")
        waiter = self._waiter
        if waiter is not None:
            self._waiter = None
            if not waiter.done():
                waiter.set_result(None)

    # -- used by the session ------------------------------------------------------------

    @property
    def core(self) -> ClientConnection:
        """The sans-IO connection: the session asks it for request bytes."""
        return self._core

    @property
    def reusable(self) -> bool:
        """Whether the exchange that just ended left the connection fit for another."""
        return not self._lost and self._core.reusable

    @property
    def ready(self) -> bool:
        """Whether a request may go out on this (idle) connection now."""
        return not self._lost and self._core.ready_for_request

    def write(self, data: bytes) -> None:
        """Send ``data`` (already framed by :attr:`core`)."""
        if self._lost:
            raise ServerDisconnected(f"{self.origin} closed the connection")
        assert self._transport is not None
        self._transport.write(data)

    async def drain(self, timeout: float | None) -> None:
        """Wait until the transport takes more bytes, for at most ``timeout`` seconds."""
        if not self._write_paused:
            return
        if self._lost:
            raise ServerDisconnected(f"{self.origin} closed the connection")
        loop = asyncio.get_running_loop()
        waiter = self._drain_waiter = loop.create_future()
        handle = None
        if timeout is not None:
            handle = loop.call_later(timeout, _expire, waiter, self.origin, "write", timeout)
        try:
            await waiter
        finally:
            self._drain_waiter = None
            if handle is not None:
                handle.cancel()

    async def next_event(self, timeout: float | None) -> ResponseHead | Data | EndOfMessage:
        """The next event of the response, waiting at most ``timeout`` s for each read."""
        core = self._core
        while True:
            try:
                event = core.next_event()
            except CoreServerDisconnected:
                self._raise_tls_failure()
                hint = ""
                if self.origin.is_tls and not self.exchanges:
                    hint = " (a TLS server that requires a client certificate does this: cert=)"
                raise ServerDisconnected(
                    f"{self.origin} closed the connection without answering{hint}"
                ) from None
            except CoreRemoteProtocolError as error:
                self._raise_tls_failure()
                kind = ResponseTooLarge if error.status_code in (413, 431) else RemoteProtocolError
                raise kind(f"bad response from {self.origin}: {error.reason}") from None
            if event is not NEED_DATA:
                return event  # type: ignore[return-value]
            if self._read_paused:
                self._read_paused = False
                assert self._transport is not None
                self._transport.resume_reading()
            loop = asyncio.get_running_loop()
            waiter = self._waiter = loop.create_future()
            if timeout is None:
                await waiter
                continue
            handle = loop.call_later(timeout, _expire, waiter, self.origin, "read", timeout)
            try:
                await waiter
            finally:
                self._waiter = None
                handle.cancel()

    async def open_tunnel(
        self,
        target: Origin,
        headers: list[tuple[str, str]],
        ssl_context: ssl.SSLContext,
        timeout: float | None,
    ) -> None:
        """Ask the proxy at the other end for a CONNECT tunnel to ``target``, then speak
        TLS with ``target`` through it; this connection is then ``target``'s."""
        authority = f"{target.host_header.rsplit(':', 1)[0]}:{target.port}"
        core = self._core
        self.write(
            core.start_request(
                b"CONNECT", authority.encode("ascii"), [("Host", authority), *headers]
            )
            + core.end_request()
        )
        head = await self.next_event(timeout)
        while type(head) is ResponseHead and head.status_code < 200:
            head = await self.next_event(timeout)
        assert type(head) is ResponseHead
        if not 200 <= head.status_code < 300:
            raise ProxyError(
                f"the proxy {self.origin} refused CONNECT {authority}: {head.status_code} "
                f"{head.reason.decode('latin-1')}"
            )
        await self.next_event(timeout)  # the (empty) end of the 2xx
        if core.trailing_data[0]:
            raise ProxyError(f"the proxy {self.origin} sent bytes before the tunnel's TLS")
        loop = asyncio.get_running_loop()
        assert self._transport is not None
        try:
            async with asyncio.timeout(timeout):
                transport = await loop.start_tls(
                    self._transport, self, ssl_context, server_hostname=target.host
                )
        except TimeoutError:
            raise ConnectTimeout(
                f"the TLS handshake with {target.host} through the proxy {self.origin} took "
                f"longer than {timeout} s (Timeouts.connect)"
            ) from None
        except ssl.SSLCertVerificationError as error:
            raise TLSError(
                f"the TLS certificate of {target.host} was refused: {error.verify_message}"
            ) from None
        except (ssl.SSLError, OSError) as error:
            raise TLSError(f"TLS handshake with {target.host} failed: {error}") from None
        if transport is None:  # pragma: no cover - the loop closed it
            raise ProxyError(f"the tunnel to {target} through {self.origin} was closed")
        self._transport = transport
        self._core = ClientConnection(self._limits)
        self.origin = target

    def _raise_tls_failure(self) -> None:
        failure = self._tls_failure
        if failure is not None:
            raise TLSError(
                f"TLS with {self.origin.host} failed after the handshake: "
                f"{failure.reason or failure}; if the server wants a client certificate, "
                "give cert="
            )

    def close(self) -> None:
        """Close the connection now (an unfinished exchange is abandoned)."""
        self._lost = True
        if self._transport is not None:
            self._transport.close()


def _interleave(infos: list[Any]) -> list[Any]:
    """Addresses alternating between families, the resolver's first family first
    (RFC 8305 4), so one broken family costs a single attempt's delay."""
    families: dict[int, list[Any]] = {}
    for info in infos:
        families.setdefault(info[0], []).append(info)
    queues = list(families.values())
    ordered = []
    while any(queues):
        for queue in queues:
            if queue:
                ordered.append(queue.pop(0))
    return ordered


async def _resolve(host: str, port: int) -> list[Any]:
    """``getaddrinfo`` for a stream socket, ordered for the attempts."""
    loop = asyncio.get_running_loop()
    return _interleave(await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM))


async def _attempt(info: Any) -> socket.socket:
    family, kind, proto, _, address = info
    sock = socket.socket(family, kind, proto)
    try:
        sock.setblocking(False)
        await asyncio.get_running_loop().sock_connect(sock, address)
    except BaseException:
        sock.close()
        raise
    return sock


async def happy_eyeballs(host: str, port: int, delay: float | None) -> socket.socket:
    """Connect to the first of ``host``'s addresses that answers (RFC 8305).

    Attempts start ``delay`` seconds apart (at once when the previous one failed), the
    first to connect wins and the others are cancelled: a dual-stack host whose IPv6
    route is broken costs ``delay``, not a connect timeout. With ``delay`` None the
    addresses are tried one after the other. Written here rather than taken from
    ``create_connection(happy_eyeballs_delay=)``, which uvloop does not have.
    """
    infos = await _resolve(host, port)
    if not infos:
        raise OSError(f"{host} has no address")
    pending: set[asyncio.Task[socket.socket]] = set()
    errors: list[BaseException] = []
    winner: socket.socket | None = None
    try:
        for index, info in enumerate(infos):
            pending.add(asyncio.ensure_future(_attempt(info)))
            last = index == len(infos) - 1
            while pending:
                done, _ = await asyncio.wait(
                    pending, timeout=None if last else delay, return_when=FIRST_COMPLETED
                )
                if not done:
                    break  # this attempt is slow: start the next one beside it
                for task in done:
                    pending.discard(task)
                    error = task.exception()
                    if error is None:
                        winner = task.result()
                        return winner
                    errors.append(error)
                if not last:
                    break  # a failure: the next address at once
        raise errors[-1] if errors else OSError(f"cannot connect to {host}")
    finally:
        for task in pending:
            task.cancel()
        for result in await asyncio.gather(*pending, return_exceptions=True):
            if isinstance(result, socket.socket) and result is not winner:
                result.close()


async def open_connection(
    origin: Origin,
    *,
    limits: ResponseLimits,
    ssl_context: ssl.SSLContext | None,
    timeout: float | None,
    happy_eyeballs_delay: float | None = 0.25,
) -> HTTPConnection:
    """Connect to ``origin`` (TLS for https), with errors that name the host."""
    loop = asyncio.get_running_loop()
    tls = ssl_context if origin.is_tls else None
    try:
        async with asyncio.timeout(timeout):
            sock = await happy_eyeballs(origin.host, origin.port, happy_eyeballs_delay)
            try:
                _, protocol = await loop.create_connection(
                    lambda: HTTPConnection(origin, limits),
                    sock=sock,
                    ssl=tls,
                    server_hostname=origin.host if tls is not None else None,
                )
            except BaseException:
                sock.close()
                raise
    except TimeoutError:
        raise ConnectTimeout(
            f"connecting to {origin} took longer than {timeout} s (Timeouts.connect)"
        ) from None
    except ssl.SSLCertVerificationError as error:
        raise TLSError(
            f"the TLS certificate of {origin.host} was refused: {error.verify_message}; "
            "if the server is right, pass verify= a CA file or an ssl.SSLContext that trusts it"
        ) from None
    except ssl.SSLError as error:
        raise TLSError(
            f"TLS handshake with {origin.host}:{origin.port} failed: {error.reason or error}"
        ) from None
    except OSError as error:
        raise ConnectError(
            f"cannot connect to {origin.host}:{origin.port}: {error.strerror or error}"
        ) from None
    return protocol
