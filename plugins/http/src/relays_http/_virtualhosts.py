"""``VirtualHosts``: serve several sites from one tree, chosen by the ``Host`` field."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from relays import BaseComponent, Priority, handler

from ._request import Request
from ._response import Response

__all__ = ["VirtualHosts"]


class VirtualHosts(BaseComponent):
    """Route each host to a path prefix: ``VirtualHosts({"blog.example.com": "/blog"})``.

    A request for ``blog.example.com/2024`` is rewritten to ``/blog/2024``
    (:meth:`Request.rewrite <relays_http.Request.rewrite>`), so the dispatcher and a
    WSGI :class:`~relays_http.Gateway` route it there; ``request.original_path`` and
    ``request.url`` stay what the client asked for, and a WSGI application mounted
    at ``/blog`` sees ``SCRIPT_NAME=""`` and ``PATH_INFO="/2024"``.
    Hosts match without the port and case-insensitively; a ``host:port`` key wins
    over a bare host. Hosts not listed are dispatched as they are.
    Put it above the dispatcher (it listens at ``Priority.ROUTE``).
    """

    channel = "web"

    def __init__(self, domains: Mapping[str, str], *, channel: Any = "web") -> None:
        super().__init__(channel=channel)
        self.domains: dict[str, str] = {}
        for host, prefix in domains.items():
            if not prefix.startswith("/"):
                raise ValueError(f"a virtual host's prefix starts with '/', not {prefix!r}")
            self.domains[host.lower()] = prefix.rstrip("/")

    @handler("request", priority=Priority.ROUTE)
    def _on_request(self, request: Request, response: Response) -> None:
        host = request.host.lower()
        prefix = self.domains.get(host)
        if prefix is None:
            bare = host.rpartition(":")[0] if not host.endswith("]") else host
            prefix = self.domains.get(bare or host)
        if prefix is not None:
            request.rewrite(path=prefix + request.raw_path)
