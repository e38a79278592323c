"""Who may look: a loopback (or allowed) peer holding the inspector's token.

Theory of operation
-------------------
The inspector shows a running process from the inside: component names, handler
code names, event arguments and tracebacks. Two checks stand before every answer,
both in this sans-IO object so they are tested without a server:

1. The peer's address must be in one of the allowed networks (loopback only by
   default). A UNIX-socket peer is on this machine, so it counts as local.
2. The request must carry the token, made at random when the inspector is created
   and printed once for the operator. It comes either in the ``token`` query
   parameter (the printed link) or in the cookie that the first such visit sets,
   so that links and the event stream work without the token in every URL. The
   comparison runs in constant time (:func:`hmac.compare_digest`), so response
   timings tell nothing about how much of a guess was right.

A request that fails either check gets 403 and nothing else: no hint which check
failed beyond the message, and never a page fragment.
"""

from __future__ import annotations

import hmac
import ipaddress
import secrets
from collections.abc import Iterable
from enum import Enum
from typing import Any

__all__ = ["DEFAULT_ALLOW", "TOKEN_BYTES", "Access", "Verdict", "new_token"]

#: Networks whose peers may open the inspector unless told otherwise: loopback only.
DEFAULT_ALLOW: tuple[str, ...] = ("127.0.0.0/8", "::1/128")
#: Random bytes in a new token (it is sent as URL-safe base64, 4/3 as many characters).
TOKEN_BYTES = 24

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def new_token() -> str:
    """A fresh random token, safe in a URL and a cookie."""
    return secrets.token_urlsafe(TOKEN_BYTES)


class Verdict(Enum):
    """What :meth:`Access.check` decided."""

    #: The peer is allowed and the cookie holds the token.
    ALLOWED = "allowed"
    #: The peer is allowed and the query holds the token: set the cookie, then redirect
    #: to the same page without the token in its address.
    ALLOWED_SET_COOKIE = "allowed, set the cookie"
    #: The peer's address is not in an allowed network.
    PEER_REFUSED = "the inspector answers only local clients"
    #: No token, or a wrong one.
    TOKEN_REFUSED = "open the inspector with the link printed when the server started"


class Access:
    """The inspector's two checks: the peer's network and the token.

    *allow* lists networks (``"127.0.0.0/8"``, ``"10.1.2.3"``, ``"::1/128"``) whose
    peers may ask; ``("*",)`` allows every peer (the token still guards the page).
    """

    def __init__(self, token: str, allow: Iterable[str] = DEFAULT_ALLOW) -> None:
        if len(token) < 16:
            raise ValueError("an inspector token needs 16 characters or more: use new_token()")
        self.token = token
        self._token_bytes = token.encode()
        allowed = tuple(allow)
        self.allow_everyone = "*" in allowed
        self.networks: tuple[Network, ...] = tuple(
            ipaddress.ip_network(each, strict=False) for each in allowed if each != "*"
        )

    def peer_allowed(self, remote: Any) -> bool:
        """Whether the peer at *remote* (``(host, port)``, a path or None) may ask."""
        if self.allow_everyone:
            return True
        if not isinstance(remote, tuple):
            return True  # a UNIX socket: its peer is on this machine
        try:
            address = ipaddress.ip_address(str(remote[0]).partition("%")[0])
        except ValueError:
            return False
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        return any(address in network for network in self.networks)

    def token_matches(self, offered: str | None) -> bool:
        """Whether *offered* is the token, compared in constant time."""
        if offered is None:
            return False
        return hmac.compare_digest(offered.encode("utf-8", "replace"), self._token_bytes)

    def check(self, remote: Any, query_token: str | None, cookie_token: str | None) -> Verdict:
        """The verdict for a request from *remote* carrying these tokens.

        A token in the query wins over the cookie: a wrong one there is refused even
        when the cookie is right, so a stale link never silently works.
        """
        if not self.peer_allowed(remote):
            return Verdict.PEER_REFUSED
        if query_token is not None:
            if self.token_matches(query_token):
                return Verdict.ALLOWED_SET_COOKIE
            return Verdict.TOKEN_REFUSED
        if self.token_matches(cookie_token):
            return Verdict.ALLOWED
        return Verdict.TOKEN_REFUSED
