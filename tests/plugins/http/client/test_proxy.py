"""Proxies: forwarding http URLs, CONNECT tunnels for https, and the environment."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager, suppress
from pathlib import Path
from typing import Any

import pytest
import trustme
from scripted import ReceivedRequest, reply

from relays_http._protocol import Data, EndOfMessage
from relays_http._protocol._client import ClientConnection, ResponseHead
from relays_http.client import ProxyError, Session

Serve = Callable[..., Any]


def echo(request: ReceivedRequest) -> bytes:
    auth = request.headers.get("proxy-authorization", "-")
    return reply(f"{request.target} {request.headers['host']} {auth}".encode())


def test_the_core_reads_a_2xx_to_connect_as_a_tunnel() -> None:
    connection = ClientConnection()
    head = connection.start_request(b"CONNECT", b"example.test:443", [(b"Host", b"x:443")])
    assert head == b"CONNECT example.test:443 HTTP/1.1\r\nHost: x:443\r\n\r\n"
    connection.end_request()
    connection.receive_data(b"HTTP/1.1 200 Connection Established\r\n\r\n\x16\x03tls")
    event = connection.next_event()
    assert isinstance(event, ResponseHead)
    assert event.status_code == 200
    assert type(connection.next_event()) is EndOfMessage  # no body, whatever follows
    assert connection.trailing_data == (b"\x16\x03tls", False)
    assert not connection.reusable


def test_a_refused_connect_has_its_body() -> None:
    connection = ClientConnection()
    connection.start_request(b"CONNECT", b"example.test:443", [(b"Host", b"x:443")])
    connection.end_request()
    connection.receive_data(b"HTTP/1.1 407 Auth\r\nContent-Length: 2\r\n\r\nno")
    assert isinstance(connection.next_event(), ResponseHead)
    assert connection.next_event() == Data(b"no")


async def test_http_urls_are_forwarded_with_the_whole_url(serve: Serve) -> None:
    async with serve(echo) as proxy:
        proxy_url = proxy.url().replace("http://", "http://me:s%40cret@")
        async with Session(proxy=proxy_url) as session:
            first = await session.get("http://example.test/path?q=1")
            second = await session.get("http://other.test:8080/")
    assert first.text == "http://example.test/path?q=1 example.test Basic bWU6c0BjcmV0"
    assert second.text.startswith("http://other.test:8080/ other.test:8080 ")
    assert proxy.connections == 1  # one kept-alive connection to the proxy for both


async def test_the_environment_names_the_proxy_and_no_proxy_bypasses_it(
    serve: Serve, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with serve(echo) as proxy, serve(echo) as direct:
        monkeypatch.setenv("HTTP_PROXY", proxy.url())
        monkeypatch.setenv("NO_PROXY", "localhost, .internal.test")
        async with Session() as session:
            via_proxy = await session.get("http://example.test/")
            straight = await session.get(direct.url("/here", host="localhost"))
        async with Session(trust_env=False) as session:
            also_straight = await session.get(direct.url("/there"))
    assert via_proxy.text.startswith("http://example.test/ ")
    assert straight.text.startswith("/here ")
    assert also_straight.text.startswith("/there ")


@pytest.mark.parametrize(
    ("host", "port", "no_proxy", "bypassed"),
    [
        ("example.com", 80, "*", True),
        ("www.example.com", 80, "example.com", True),
        ("www.example.com", 80, ".example.com", True),
        ("example.com", 80, ".example.com", True),
        ("badexample.com", 80, "example.com", False),
        ("example.com", 8080, "example.com:8080", True),
        ("example.com", 80, "example.com:8080", False),
        ("::1", 80, "[::1]", True),
        ("example.com", 80, "", False),
    ],
)
def test_no_proxy_matching(host: str, port: int, no_proxy: str, bypassed: bool) -> None:
    from relays_http.client._session import _bypasses_proxy
    from relays_http.client._url import Origin

    assert _bypasses_proxy(Origin("http", host, port), no_proxy) is bypassed


@asynccontextmanager
async def tunnelling_proxy(answer: bytes | None = None) -> AsyncIterator[tuple[int, list[str]]]:
    """A CONNECT proxy on loopback; ``answer``: refuse with it instead of tunnelling."""
    seen: list[str] = []
    tasks: set[asyncio.Task[Any]] = set()

    async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with suppress(ConnectionError):
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        writer.close()

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        upstream_writer: asyncio.StreamWriter | None = None
        try:
            head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1")
            seen.append(head.split("\r\n")[0])
            if answer is not None:
                writer.write(answer)
                await writer.drain()
                return
            port = int(head.split(" ")[1].rsplit(":", 1)[1])
            upstream_reader, upstream_writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(b"HTTP/1.1 200 Connection Established\r\n\r\n")
            await writer.drain()
            await asyncio.gather(pipe(reader, upstream_writer), pipe(upstream_reader, writer))
        finally:
            writer.close()
            if upstream_writer is not None:
                upstream_writer.close()

    def track(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.ensure_future(serve(reader, writer))
        tasks.add(task)
        task.add_done_callback(tasks.discard)

    server = await asyncio.start_server(track, "127.0.0.1", 0)
    try:
        yield server.sockets[0].getsockname()[1], seen
    finally:
        server.close()
        for task in list(tasks):
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await server.wait_closed()


async def test_https_goes_through_a_connect_tunnel(serve: Serve, tmp_path: Path) -> None:
    authority = trustme.CA()
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    authority.issue_cert("localhost").configure_cert(context)
    ca_file = tmp_path / "ca.pem"
    authority.cert_pem.write_to_path(str(ca_file))
    async with (
        serve(echo, ssl_context=context) as server,
        tunnelling_proxy() as (proxy_port, seen),
    ):
        proxy = f"http://127.0.0.1:{proxy_port}"
        async with Session(proxy=proxy, verify=str(ca_file)) as session:
            first = await session.get(server.url("/secret", host="localhost"))
            second = await session.get(server.url("/again", host="localhost"))
    assert first.text == f"/secret localhost:{server.port} -"  # origin-form inside the tunnel
    assert second.text.startswith("/again ")
    assert seen == [f"CONNECT localhost:{server.port} HTTP/1.1"]  # one tunnel, kept alive


async def test_a_refused_connect_is_a_proxy_error() -> None:
    refusal = b"HTTP/1.1 407 Proxy Authentication Required\r\nContent-Length: 0\r\n\r\n"
    async with (
        tunnelling_proxy(refusal) as (proxy_port, _),
        Session(proxy=f"http://127.0.0.1:{proxy_port}") as session,
    ):
        with pytest.raises(ProxyError, match=r"refused CONNECT example\.test:443: 407"):
            await session.get("https://example.test/")


async def test_only_http_proxies() -> None:
    from relays_http.client import InvalidURL

    async with Session(proxy="socks5://127.0.0.1:1080") as session:
        with pytest.raises(InvalidURL, match="only http:// proxies"):
            await session.get("http://example.test/")
