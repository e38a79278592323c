"""The server over every stream transport (TLS, UNIX), backpressure, and the plugin hooks."""

from __future__ import annotations

import asyncio
import http.client
import socket
import ssl
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import trustme

from relays import Component, find_protocol, plugin_manager
from relays_http import HTTP, Request, Response, Server

pytestmark = pytest.mark.integration


class Hello(Component):
    channel = "web"

    def request(self, request: Request, response: Response) -> str:
        return f"hello over {request.scheme}"


def started(server: Server) -> Server:
    server.start()
    server.wait_listening()
    return server


@pytest.fixture
def tls_files(tmp_path: Path) -> tuple[str, ssl.SSLContext]:
    ca = trustme.CA()
    certfile = tmp_path / "server.pem"
    ca.issue_cert("127.0.0.1").private_key_and_cert_chain_pem.write_to_path(str(certfile))
    client_context = ssl.create_default_context()
    ca.configure_trust(client_context)
    return str(certfile), client_context


def test_tls(tls_files: tuple[str, ssl.SSLContext]) -> None:
    certfile, client_context = tls_files
    server = started(Server("tls://127.0.0.1:0", certfile=certfile) + Hello())
    try:
        assert server.url is not None
        assert server.url.startswith("https://")
        client = http.client.HTTPSConnection(
            "127.0.0.1", server.port, context=client_context, timeout=5
        )
        client.request("GET", "/")
        assert client.getresponse().read() == b"hello over https"
        client.close()
    finally:
        server.stop()


def test_plain_http_on_a_tls_port_gets_a_plain_400(tls_files: tuple[str, ssl.SSLContext]) -> None:
    certfile, _ = tls_files
    server = started(Server("tls://127.0.0.1:0", certfile=certfile) + Hello())
    try:
        with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
            sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            data = b""
            while chunk := sock.recv(4096):
                data += chunk
        assert data.startswith(b"HTTP/1.1 400 ")
        assert b"https://" in data
        assert b"connection: close" in data.lower()
    finally:
        server.stop()


def test_unix_socket() -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = f"{folder}/http.sock"
        server = started(Server(f"unix://{path}") + Hello())
        try:
            with socket.socket(socket.AF_UNIX) as sock:
                sock.settimeout(5)
                sock.connect(path)
                sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                data = b""
                while chunk := sock.recv(4096):
                    data += chunk
            assert data.startswith(b"HTTP/1.1 200 OK")
            assert data.endswith(b"hello over http")
        finally:
            server.stop()


def test_streaming_waits_for_a_slow_reader() -> None:
    produced = [0]
    chunk = b"x" * 65536

    class Flood(Component):
        channel = "web"

        def request(self, request: Request, response: Response) -> Any:
            def flood() -> Iterator[bytes]:
                for _ in range(3000):  # about 200 MB, if nothing held it back
                    produced[0] += len(chunk)
                    yield chunk

            return flood()

    server = started(Server("tcp://127.0.0.1:0") + Flood())
    try:
        with socket.create_connection(("127.0.0.1", server.port or 0), timeout=5) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
            sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            time.sleep(0.5)  # read nothing: the server must stop producing
            held_back = produced[0]
            sock.recv(65536)
        assert held_back < 64 * 1024 * 1024
    finally:
        server.stop()


def test_plugin_answers_the_protocol_hook() -> None:
    assert find_protocol("http") is HTTP
    provided = plugin_manager().hook.relays_provides()
    names = {(item.kind, item.name) for items in provided for item in items}
    assert ("protocol", "http") in names


async def test_protocol_from_the_hook_serves_on_any_channel() -> None:
    from relays.testing import MemoryTransport

    app = Component(channel="api")
    transport = MemoryTransport(channel="api").register(app)
    find_protocol("http")(channel="api").register(app)

    class Answer(Component):
        channel = "api"

        def request(self, request: Request, response: Response) -> str:
            return "from api"

    app += Answer()
    async with app:
        client = transport.connect()
        client.send(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        received = await client.wait(lambda data: data.endswith(b"from api"))
    assert received.startswith(b"HTTP/1.1 200 OK")
    await asyncio.sleep(0)


def test_servers_ask_their_tcp_transport_to_defer_accepting() -> None:
    from relays_http._servers import DEFER_ACCEPT
    from relays_sockets import TCPServer

    assert Server("tcp://127.0.0.1:0").transport.defer_accept == DEFER_ACCEPT  # type: ignore[attr-defined]
    told = TCPServer(("127.0.0.1", 0), channel="web", defer_accept=0)
    assert Server(transport=told).transport is told
    assert told.defer_accept == 0  # what the transport was told stays
    unix = Server(f"unix://{tempfile.gettempdir()}/relays-defer.sock").transport
    assert not hasattr(unix, "defer_accept")
