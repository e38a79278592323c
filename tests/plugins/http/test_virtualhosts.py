"""VirtualHosts: the Host field chooses the path prefix the dispatcher routes."""

from __future__ import annotations

import pytest

from relays.testing import MemoryTransport
from relays_http import BaseServer
from relays_http._controllers import Controller
from relays_http._dispatcher import Dispatcher
from relays_http._proxy import TrustedProxies
from relays_http._virtualhosts import VirtualHosts
from relays_http.testing import Client


class Main(Controller):
    def index(self, *rest: str) -> str:
        return "main:" + "/".join(rest)


class Blog(Controller):
    channel = "/sites/blog"

    def index(self, *rest: str) -> str:
        request = self.request
        return f"blog:{'/'.join(rest)}:{request.path}:{request.original_path}:{request.url}"


async def fetch(transport: MemoryTransport, host: str, path: str, extra: str = "") -> bytes:
    """The body of ``GET path`` for *host* from 10.0.0.1 (a trusted proxy below)."""
    client = Client(transport, peer=("10.0.0.1", 4000), host=host)
    name, _, value = extra.partition(":")
    response = await client.get(path, headers={name: value.strip()} if extra else None)
    return response.body


async def test_hosts_choose_prefixes() -> None:
    transport = MemoryTransport(channel="web")
    hosts = VirtualHosts({"blog.example.com": "/sites/blog/", "Other.example.com:8080": "/x"})
    server = BaseServer(transport=transport) + Dispatcher() + hosts + Main() + Blog()
    async with server:
        assert await fetch(transport, "blog.example.com", "/2024/a") == (
            b"blog:2024/a:/sites/blog/2024/a:/2024/a:http://blog.example.com/2024/a"
        )
        assert await fetch(transport, "BLOG.example.com:80", "/") == (
            b"blog::/sites/blog/:/:http://BLOG.example.com:80/"
        )
        assert await fetch(transport, "example.com", "/2024") == b"main:2024"
        assert await fetch(transport, "other.example.com:8080", "/y") == b"main:x/y"
        assert await fetch(transport, "other.example.com", "/y") == b"main:y"


async def test_forwarded_host_from_a_trusted_proxy_chooses_the_site() -> None:
    transport = MemoryTransport(channel="web")
    server = (
        BaseServer(transport=transport)
        + Dispatcher()
        + TrustedProxies(["10.0.0.0/8"])
        + VirtualHosts({"blog.example.com": "/sites/blog"})
        + Main()
        + Blog()
    )
    async with server:
        extra = "X-Forwarded-Host: blog.example.com\r\n"
        assert (
            await fetch(transport, "internal", "/a", extra)
            == b"blog:a:/sites/blog/a:/a:http://blog.example.com/a"
        )


def test_prefix_must_be_a_path() -> None:
    with pytest.raises(ValueError, match="starts with"):
        VirtualHosts({"a": "b"})
