"""relays-sockets: TCP, UDP and UNIX servers and clients, with TLS, on asyncio.

Install it and ``relays.find_transport("tcp")`` (``tcp6``, ``tls``, ``udp``,
``unix``, ``fd`` for an inherited socket) answers with these components; or use them directly::

    from relays_sockets import TCPServer

    app = EchoApp() + TCPServer("tcp://127.0.0.1:8000")

The events are circuits.net's (:mod:`relays.transports`); the ``sock`` handle of a
stream connection is a :class:`SocketConnection`.
"""

from ._connection import SocketConnection
from ._inherited import inherited_server, inherited_socket, systemd_listen_fds
from ._limits import SocketLimits
from ._stream import NotTLS
from ._tcp import TCPClient, TCPServer
from ._tls import TLSOptionError, client_context, server_context
from ._udp import UDPClient, UDPServer
from ._unix import UNIXClient, UNIXServer

__all__ = [
    "NotTLS",
    "SocketConnection",
    "SocketLimits",
    "TCPClient",
    "TCPServer",
    "TLSOptionError",
    "UDPClient",
    "UDPServer",
    "UNIXClient",
    "UNIXServer",
    "client_context",
    "inherited_server",
    "inherited_socket",
    "server_context",
    "systemd_listen_fds",
]
