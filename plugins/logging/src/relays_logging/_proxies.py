"""Who the client is when a reverse proxy stands in front of the server.

A proxy appends the address it received a connection from to ``X-Forwarded-For``,
so the field reads ``client, proxy1, proxy2`` and the connection's peer is the last
proxy. Any hop may be the client itself, which can write whatever it likes into the
field; only what *trusted* proxies appended can be believed. So the field is read
from the right: while the address in hand (first the peer, then each entry) is a
trusted proxy, step one entry left; the first address that is not trusted is the
client. An entry that is not an IP address ends the walk: the proxy that passed it
on is reported, since nothing left of garbage can be trusted. Without a trusted
peer the field is ignored altogether (anyone can send it).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

__all__ = ["TrustedProxies"]

_Network = ipaddress.IPv4Network | ipaddress.IPv6Network
_Address = ipaddress.IPv4Address | ipaddress.IPv6Address


class TrustedProxies:
    """The proxies whose ``X-Forwarded-For`` entries are believed.

    *networks* are addresses or CIDR blocks (``"10.0.0.0/8"``, ``"::1"``); a bad
    one raises :class:`ValueError` naming it.
    """

    def __init__(self, networks: Iterable[str] = ()) -> None:
        parsed: list[_Network] = []
        for network in networks:
            try:
                parsed.append(ipaddress.ip_network(network.strip(), strict=False))
            except ValueError:
                raise ValueError(
                    f"trusted proxy {network!r} is not an IP address or CIDR block "
                    "(like 10.0.0.0/8 or ::1)"
                ) from None
        self.networks: tuple[_Network, ...] = tuple(parsed)

    def __bool__(self) -> bool:
        return bool(self.networks)

    def trusts(self, address: _Address) -> bool:
        """Whether *address* is one of the trusted proxies."""
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        return any(address in network for network in self.networks)

    def client(self, peer: str | None, forwarded_for: Iterable[str]) -> str | None:
        """The client's address, given the connection's *peer* and the values of
        every ``X-Forwarded-For`` field in the order received."""
        if not self.networks or peer is None:
            return peer
        current = _parse(peer)
        if current is None or not self.trusts(current):
            return peer
        entries = [entry.strip() for value in forwarded_for for entry in value.split(",")]
        for entry in reversed(entries):
            if not entry:
                continue
            address = _parse(entry)
            if address is None:
                break  # garbage: report the proxy that passed it on
            current = address
            if not self.trusts(current):
                break
        return str(current)

    def __repr__(self) -> str:
        return f"TrustedProxies({[str(network) for network in self.networks]!r})"


def _parse(text: str) -> _Address | None:
    """An address from an entry: ``1.2.3.4``, ``1.2.3.4:80``, ``::1``, ``[::1]:80``."""
    if text.startswith("["):
        text = text[1:].partition("]")[0]
    elif text.count(":") == 1:
        text = text.partition(":")[0]
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    return address
