"""UNIX domain socket servers and clients.

A server's socket file is removed before binding only when it is stale: a socket
nobody listens on any more. A live server's file is left alone (binding fails with
"address in use"), and a path that is not a socket is never removed.

A path starting with ``@`` (``unix:@name``) names a socket of Linux's abstract
namespace: no file is made, nothing is left behind, and it is gone when its last
descriptor closes. Its name is the rest of the path; the system's form starts with a
NUL byte instead of ``@``. The sockets are made here and handed to the loop, so the
same code works on asyncio's loop and on uvloop.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import ssl
import stat
import sys
from typing import Any

from relays import handler
from relays.transports import parse_address

from ._limits import SocketLimits
from ._stream import StreamClient, StreamServer, make_limits

__all__ = ["UNIXClient", "UNIXServer"]


def _unix_path(address: Any, component: str) -> str:
    if isinstance(address, os.PathLike):
        return os.fspath(address)  # type: ignore[no-any-return]
    scheme, path = parse_address(address)
    if scheme != "unix":
        raise ValueError(f"{component} takes a socket path or unix:// URL, not {address!r}")
    return str(path)


def is_abstract(path: str) -> bool:
    """Whether *path* names a socket of the abstract namespace (``@name``)."""
    return path.startswith("@")


def _system_address(path: str) -> str:
    """The address the system takes: ``@name`` becomes ``"\\0name"``."""
    if not is_abstract(path):
        return path
    if not hasattr(socket, "AF_UNIX") or not sys.platform.startswith("linux"):
        raise ValueError(f"abstract UNIX sockets ({path!r}) exist on Linux only; use a path")
    return "\0" + path[1:]


async def _remove_stale_socket(path: str) -> None:
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        return
    if not stat.S_ISSOCK(mode):
        raise FileExistsError(f"{path!r} exists and is not a socket; not removing it")
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    probe.setblocking(False)
    try:
        await asyncio.get_running_loop().sock_connect(probe, path)
    except (ConnectionRefusedError, FileNotFoundError):
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)  # nobody listens: a leftover of a process that died
        return
    finally:
        probe.close()
    raise OSError(f"{path!r} is in use by a running server")


class UNIXServer(StreamServer):
    """A UNIX socket server: ``UNIXServer("/run/app.sock", mode=0o660)``.

    A stale socket file is removed first; *mode* sets the new file's permissions,
    which decide who may connect. On stop the file is removed. ``"unix:@name"``
    (Linux) listens in the abstract namespace: no file at all, and *mode* does not
    apply. Fires the events of
    :class:`TCPServer`, with ``connect(sock, None, None)`` (UNIX peers have no
    address) and ``ready(server, path)``. *ssl_context* adds TLS.
    """

    def __init__(
        self,
        path: Any,
        *,
        channel: Any = "server",
        mode: int | None = None,
        ssl_context: ssl.SSLContext | None = None,
        limits: SocketLimits | None = None,
        **limit_options: Any,
    ) -> None:
        super().__init__(
            channel=channel, limits=make_limits(limits, limit_options), ssl_context=ssl_context
        )
        # An already bound socket (inherited: fd://, socket activation) is used as it is:
        # its file, if any, is not ours to remove or chmod.
        self._socket: socket.socket | None = None
        if isinstance(path, socket.socket):
            self._socket = path
            name = path.getsockname()
            if isinstance(name, bytes):  # abstract: b"\0name"
                name = "@" + name[1:].decode(errors="replace")
            self.path: str = name or "@"
        else:
            self.path = _unix_path(path, type(self).__name__)
        self.mode = mode

    async def _open(self, factory: Any) -> asyncio.AbstractServer:
        loop = asyncio.get_running_loop()
        # Plain: a TLS server's handshake is the server's own step (see StreamServer).
        if self._socket is not None:
            keep_file: dict[str, Any] = {}
            if sys.version_info >= (3, 13):
                # asyncio (and uvloop, which follows it) would remove the file on close.
                keep_file["cleanup_socket"] = False
            return await loop.create_unix_server(
                factory, sock=self._socket, backlog=self.limits.backlog, **keep_file
            )
        if is_abstract(self.path):
            listening = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                listening.bind(_system_address(self.path))
            except OSError:
                listening.close()
                raise
            return await loop.create_unix_server(
                factory, sock=listening, backlog=self.limits.backlog
            )
        await _remove_stale_socket(self.path)
        server = await loop.create_unix_server(factory, self.path, backlog=self.limits.backlog)
        if self.mode is not None:
            os.chmod(self.path, self.mode)
        return server

    def _listening_address(self, server: asyncio.AbstractServer) -> Any:
        return self.path

    async def _end(self) -> None:
        listening = self._server is not None and self._state != "closed"
        await super()._end()
        if listening and self._socket is None and not is_abstract(self.path):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.path)


class UNIXClient(StreamClient):
    """A UNIX socket client: fire ``connect(path)`` (or give *path* to connect when
    the tree starts); it fires ``connected(path, None)`` or
    ``unreachable(path, None, reason)``, then ``read(data)`` and ``disconnected()``."""

    def __init__(
        self,
        path: Any = None,
        *,
        channel: Any = "client",
        ssl_context: ssl.SSLContext | None = None,
        server_hostname: str | None = None,
        connect_timeout: float = 10.0,
        limits: SocketLimits | None = None,
        **limit_options: Any,
    ) -> None:
        super().__init__(
            channel=channel,
            limits=make_limits(limits, limit_options),
            connect_timeout=connect_timeout,
        )
        self.path = None if path is None else _unix_path(path, type(self).__name__)
        self.ssl_context = ssl_context
        self.server_hostname = server_hostname

    async def _begin(self) -> None:
        if self.path is not None:
            await self._connect_to(self.path, None, self.ssl_context is not None)

    @handler("connect")
    async def _on_connect(self, path: Any = None, *args: Any, secure: bool | None = None) -> None:
        target = self.path if path is None else _unix_path(path, type(self).__name__)
        if target is None:
            raise ValueError(f"{self.name} has no path: fire connect(path)")
        wants_tls = self.ssl_context is not None if secure is None else secure
        await self._connect_to(target, None, wants_tls)

    async def _dial(self, factory: Any, host: Any, port: Any, secure: bool) -> None:
        loop = asyncio.get_running_loop()
        target: dict[str, Any] = {"path": host}
        if is_abstract(host):
            connecting = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            connecting.setblocking(False)
            try:
                await loop.sock_connect(connecting, _system_address(host))
            except BaseException:
                connecting.close()
                raise
            target = {"sock": connecting}
        if secure:
            if self.ssl_context is None:
                raise ValueError(f"{self.name} needs ssl_context= for TLS")
            await loop.create_unix_connection(
                factory,
                **target,
                ssl=self.ssl_context,
                server_hostname=self.server_hostname or "localhost",
                ssl_handshake_timeout=self.limits.handshake_timeout,
            )
        else:
            await loop.create_unix_connection(factory, **target)
