"""Listening sockets a process inherits: ``fd://N`` and systemd socket activation.

A supervisor (systemd, a parent process, ``relays serve --reload``'s reloader) may
open the listening socket and hand its descriptor down, so the server needs no
privileges to bind, keeps the socket across restarts, and starts only when a
client arrives. ``fd://3`` names such a descriptor. What kind of socket it is, is
asked of the socket itself: TCP (IPv4 or IPv6) goes to a :class:`TCPServer`, a
UNIX stream socket to a :class:`UNIXServer`, each given the socket as it is.

systemd passes its sockets from descriptor 3 on (``SD_LISTEN_FDS_START``) and says
how many in ``LISTEN_FDS``, for the process ``LISTEN_PID`` only (a child that
inherits the environment is not meant): :func:`systemd_listen_fds` reads that.
"""

from __future__ import annotations

import os
import socket
from typing import Any

from relays import BaseComponent
from relays.transports import parse_address

__all__ = ["SD_LISTEN_FDS_START", "inherited_server", "inherited_socket", "systemd_listen_fds"]

#: The first descriptor systemd passes (``sd_listen_fds(3)``).
SD_LISTEN_FDS_START = 3


def systemd_listen_fds(environ: dict[str, str] | None = None) -> list[int]:
    """The descriptors systemd passed to this process (empty when none, or not ours)."""
    environ = os.environ if environ is None else environ  # type: ignore[assignment]
    assert environ is not None
    try:
        meant_for = int(environ.get("LISTEN_PID", ""))
        count = int(environ.get("LISTEN_FDS", ""))
    except ValueError:
        return []
    if meant_for != os.getpid() or count < 1:
        return []
    return list(range(SD_LISTEN_FDS_START, SD_LISTEN_FDS_START + count))


def inherited_socket(address: Any) -> socket.socket:
    """The listening stream socket behind ``fd://N`` (or a descriptor number).

    Raises :class:`ValueError` when the descriptor is not open, or is not a listening
    stream socket, saying which.
    """
    number = address if isinstance(address, int) else parse_address(address)[1]
    try:
        inherited = socket.socket(fileno=number)
    except OSError as error:
        raise ValueError(
            f"fd://{number}: no socket there ({error.strerror}); pass a listening socket's "
            "descriptor (systemd socket activation starts at 3)"
        ) from None
    listening = inherited.type == socket.SOCK_STREAM and inherited.getsockopt(
        socket.SOL_SOCKET, socket.SO_ACCEPTCONN
    )
    if not listening:
        inherited.detach()  # not ours to close
        raise ValueError(f"fd://{number} is not a listening stream socket")
    inherited.set_inheritable(False)  # our own children are not meant to serve on it
    return inherited


def inherited_server(address: Any, **options: Any) -> BaseComponent:
    """A server component on the inherited socket ``fd://N`` (the ``fd`` transport)."""
    inherited = inherited_socket(address)
    if inherited.family == socket.AF_UNIX:
        from ._unix import UNIXServer

        for tcp_only in ("reuse_port", "reuse_address", "defer_accept", "fast_transport"):
            options.pop(tcp_only, None)
        return UNIXServer(inherited, **options)
    from ._tcp import TCPServer

    return TCPServer(inherited, **options)
