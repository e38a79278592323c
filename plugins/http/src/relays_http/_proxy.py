"""``TrustedProxies``: honour ``Forwarded`` and ``X-Forwarded-*`` only from proxies we trust.

Theory of operation
-------------------
Anybody can send ``X-Forwarded-For: 1.2.3.4``; only a proxy we run may be
believed. So nothing is read unless the connection's peer is a trusted proxy
(an address or network in *trusted*), and then the client is found with the
rightmost-untrusted rule: walk the addresses from the right (the hop nearest us)
leftwards, skipping trusted proxies; the first untrusted address is the client.
Entries further left were written by the client itself and prove nothing. When
every hop is trusted, the leftmost is the client. An entry that is not an IP
address (``unknown``, an obfuscated ``_name``, garbage) ends the walk: the client
is then the last hop we could trust.

The scheme and host come from the same hop: for ``Forwarded`` (RFC 7239) the
``proto`` and ``host`` of the client's element; for ``X-Forwarded-Proto`` and
``-Host`` the value at the client's position when the lists are as long as
``X-Forwarded-For``, else the rightmost one (written by our own proxy).

The request is then changed in place: ``remote`` (``(address, port)``),
``scheme`` and the ``Host`` field, so everything after it (URLs, redirects,
virtual hosts, WSGI's ``REMOTE_ADDR``) sees the client's view. What the
connection said is kept in ``request.context["proxy"]``.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from typing import Any

from relays import BaseComponent, BoundedCache, Priority, handler

from ._request import Request
from ._response import Response

__all__ = ["TRUSTED_ADDRESS_CACHE_SIZE", "TrustedProxies", "parse_forwarded"]

#: Peer addresses whose answer (trusted or not) a :class:`TrustedProxies` remembers:
#: the proxies and the clients that come straight to the server; past it the cache is
#: emptied and refilled (see :class:`relays.BoundedCache`).
TRUSTED_ADDRESS_CACHE_SIZE = 4096

_Address = ipaddress.IPv4Address | ipaddress.IPv6Address
_Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_forwarded(value: str) -> list[dict[str, str]]:
    """The elements of a ``Forwarded`` value (RFC 7239), each ``{parameter: value}``.

    Parameter names are lower-cased, quoted values unquoted; a malformed pair is
    skipped rather than trusted.
    """
    elements: list[dict[str, str]] = []
    element: dict[str, str] = {}
    index, size = 0, len(value)
    while index < size:
        while index < size and value[index] in " \t":
            index += 1
        equals = value.find("=", index)
        if equals < 0:
            break
        name = value[index:equals].strip().lower()
        index = equals + 1
        if index < size and value[index] == '"':
            index += 1
            chars = []
            while index < size and value[index] != '"':
                if value[index] == "\\" and index + 1 < size:
                    index += 1
                chars.append(value[index])
                index += 1
            text = "".join(chars)
            index += 1  # the closing quote
        else:
            end = index
            while end < size and value[end] not in ";,":
                end += 1
            text = value[index:end].strip()
            index = end
        if name and name.isascii() and name.replace("-", "").isalnum():
            element.setdefault(name, text)
        while index < size and value[index] in " \t":
            index += 1
        if index < size and value[index] == ",":
            elements.append(element)
            element = {}
        index += 1
    if element:
        elements.append(element)
    return elements


def _node_address(node: str) -> tuple[_Address, int] | None:
    """``"[2001:db8::1]:4711"`` -> (address, 4711); None for anything not an IP."""
    node = node.strip()
    port = 0
    if node.startswith("["):
        host, _, rest = node[1:].partition("]")
        if rest.startswith(":") and rest[1:].isdigit():
            port = int(rest[1:])
    elif node.count(":") == 1:
        host, _, port_text = node.partition(":")
        port = int(port_text) if port_text.isdigit() else 0
    else:
        host = node
    try:
        return ipaddress.ip_address(host), port
    except ValueError:
        return None


class TrustedProxies(BaseComponent):
    """Believe proxy headers from *trusted* peers only: ``TrustedProxies(["10.0.0.0/8"])``.

    *trusted* holds addresses and networks (``"127.0.0.1"``, ``"10.0.0.0/8"``,
    ``"::1"``). *headers* chooses what is read: ``"forwarded"`` (RFC 7239),
    ``"x-forwarded"`` (``X-Forwarded-For``/``-Proto``/``-Host``), or both (the
    default; ``Forwarded`` wins when present). It listens at ``Priority.PREPARE``, before
    any other ``request`` handler.
    """

    channel = "web"

    def __init__(
        self,
        trusted: Iterable[str],
        *,
        headers: Iterable[str] = ("forwarded", "x-forwarded"),
        channel: Any = "web",
    ) -> None:
        super().__init__(channel=channel)
        self.networks: list[_Network] = []
        for entry in trusted:
            try:
                self.networks.append(ipaddress.ip_network(entry, strict=False))
            except ValueError:
                raise ValueError(
                    f"a trusted proxy is an IP address or network like 10.0.0.0/8, not {entry!r}"
                ) from None
        self.headers = tuple(name.lower() for name in headers)
        unknown = set(self.headers) - {"forwarded", "x-forwarded"}
        if unknown:
            raise ValueError(f"headers= takes 'forwarded' and 'x-forwarded', not {unknown}")
        self._known: BoundedCache[str, bool] = BoundedCache(
            TRUSTED_ADDRESS_CACHE_SIZE, "peer addresses -> trusted"
        )

    def trusts(self, address: _Address | str) -> bool:
        """Whether *address* is one of the trusted proxies."""
        text = str(address)
        known = self._known.get(text)
        if known is None:
            try:
                parsed = ipaddress.ip_address(address)
            except ValueError:
                return False
            trusted = any(parsed in network for network in self.networks)
            known = self._known.remember(text, trusted)
        return known

    @handler("request", priority=Priority.PREPARE)
    def _on_request(self, request: Request, response: Response) -> None:
        remote = request.remote
        if not isinstance(remote, tuple) or not self.trusts(str(remote[0])):
            return
        found = None
        if "forwarded" in self.headers:
            raw = request.headers.getall("forwarded")
            if raw:
                found = self._from_forwarded(parse_forwarded(",".join(raw)))
        if found is None and "x-forwarded" in self.headers:
            found = self._from_x_forwarded(request)
        if found is None:
            return
        client, scheme, host = found
        request.context["proxy"] = {
            "remote": request.remote,
            "scheme": request.scheme,
            "host": request.host,
        }
        if client is not None:
            request.remote = client
        if scheme in ("http", "https"):
            request.scheme = scheme
        if host and _valid_host(host):
            request.rewrite(host=host)

    def _client_index(self, nodes: list[str]) -> tuple[int, tuple[str, int] | None]:
        """The position of the client among *nodes*, and its address (rightmost-untrusted)."""
        client: tuple[str, int] | None = None
        position = len(nodes)
        for index in range(len(nodes) - 1, -1, -1):
            parsed = _node_address(nodes[index])
            if parsed is None:
                break  # not an address: nothing further left can be believed
            address, port = parsed
            client, position = (str(address), port), index
            if not self.trusts(address):
                break
        return position, client

    def _from_forwarded(
        self, elements: list[dict[str, str]]
    ) -> tuple[tuple[str, int] | None, str | None, str | None] | None:
        if not elements:
            return None
        position, client = self._client_index([element.get("for", "") for element in elements])
        if client is None:
            return None
        element = elements[position]
        return client, element.get("proto", "").lower() or None, element.get("host")

    def _from_x_forwarded(
        self, request: Request
    ) -> tuple[tuple[str, int] | None, str | None, str | None] | None:
        nodes = _list(request.headers.getall("x-forwarded-for"))
        protos = _list(request.headers.getall("x-forwarded-proto"))
        hosts = _list(request.headers.getall("x-forwarded-host"))
        if not (nodes or protos or hosts):
            return None
        position, client = self._client_index(nodes)

        def pick(values: list[str]) -> str | None:
            if not values:
                return None
            if len(values) == len(nodes) and position < len(values):
                return values[position]
            return values[-1]

        proto = pick(protos)
        return client, proto.lower() if proto else None, pick(hosts)


def _list(values: list[str]) -> list[str]:
    return [item.strip() for value in values for item in value.split(",") if item.strip()]


def _valid_host(host: str) -> bool:
    """A host (and port) with nothing that could break a URL or a header."""
    return all(char.isalnum() or char in "-.:[]_" for char in host) and len(host) < 256
