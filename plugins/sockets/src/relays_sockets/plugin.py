"""The relays plugin of relays-sockets: answers the ``transport`` hook.

Thin on purpose: loading every installed plugin must stay cheap, so the socket
modules are imported only when a transport is asked for.
"""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING

from relays import Provided
from relays.hookspecs import hookimpl

if TYPE_CHECKING:
    from relays.transports import Transport

__all__ = ["SCHEMES", "relays_provides", "relays_transport"]

#: Every scheme this plugin answers, with what it means.
SCHEMES = {
    "tcp": "TCP server and client (IPv4 or IPv6, by address)",
    "tcp4": "TCP over IPv4",
    "tcp6": "TCP over IPv6",
    "tls": "TCP with TLS required",
    "udp": "UDP endpoints",
    "unix": "UNIX domain stream sockets",
    "fd": "a listening stream socket inherited as a descriptor (fd://3, socket activation)",
}


@hookimpl
def relays_transport(scheme: str) -> Transport | None:
    if scheme not in SCHEMES:
        return None
    from relays.transports import Transport

    if scheme == "udp":
        from ._udp import UDPClient, UDPServer

        return Transport(scheme, server=UDPServer, client=UDPClient)
    if scheme == "fd":
        from ._inherited import inherited_server

        return Transport(scheme, server=inherited_server)
    if scheme == "unix":
        from ._unix import UNIXClient, UNIXServer

        return Transport(scheme, server=UNIXServer, client=UNIXClient)
    from ._tcp import TCPClient, TCPServer

    if scheme == "tls":
        return Transport(
            scheme, server=partial(TCPServer, secure=True), client=partial(TCPClient, secure=True)
        )
    return Transport(scheme, server=TCPServer, client=TCPClient)


@hookimpl
def relays_provides() -> list[Provided]:
    return [Provided("transport", scheme, description) for scheme, description in SCHEMES.items()]
