"""TLS servers and clients: certificates made at test time with trustme."""

from __future__ import annotations

import asyncio
import contextlib
import os
import ssl
from typing import Any

import pytest
import trustme

import relays
from relays import Component
from relays.testing import Manager
from relays.transports import Write
from relays_sockets import SocketConnection, TCPClient, TCPServer, TLSOptionError

pytestmark = pytest.mark.integration


class Echo(Component):
    def read(self, sock: SocketConnection, data: bytes) -> bytes:
        return data


async def tls_roundtrip(
    address: Any, context: ssl.SSLContext, message: bytes, hostname: str = "localhost"
) -> bytes:
    reader, writer = await asyncio.open_connection(*address, ssl=context, server_hostname=hostname)
    try:
        writer.write(message)
        return await asyncio.wait_for(reader.readexactly(len(message)), 5)
    finally:
        writer.close()
        await writer.wait_closed()


async def test_tls_echo_from_certificate_files(
    cert_files: dict[str, str], client_context: ssl.SSLContext, recorder: Any
) -> None:
    server = TCPServer(("127.0.0.1", 0), certfile=cert_files["certfile"])
    log = recorder()
    async with Echo() + log + server:
        address = await server.wait_ready()
        assert server.secure
        assert await tls_roundtrip(address, client_context, b"secret") == b"secret"
        sock = (await log.until("connect"))[0].args[0]
        assert sock.secure
        assert sock.get_extra_info("sslcontext") is server.ssl_context
        assert sock.peer_certificate is None  # no client certificate asked for


async def test_tls_scheme_through_the_transport_hook(
    server_context: ssl.SSLContext, cert_files: dict[str, str], recorder: Any
) -> None:
    transport = relays.find_transport("tls")
    assert transport.server is not None
    assert transport.client is not None
    server = transport.server("tls://127.0.0.1:0", ssl_context=server_context)
    async with Echo() + server:
        host, port = await server.wait_ready()
        client = transport.client(f"tls://{host}:{port}", cafile=cert_files["cafile"])
        client.server_hostname = "localhost"
        log = recorder()
        async with Manager() + log + client:
            await log.until("connected")
            assert client.sock is not None
            assert client.sock.secure
            client.fire(Write(b"through the hook"))
            reads = await log.until("read")
            assert reads[0].args == (b"through the hook",)


async def test_client_certificates_are_verified_and_visible(
    ca: trustme.CA, server_cert: trustme.LeafCert, cert_files: dict[str, str], recorder: Any
) -> None:
    server = TCPServer(
        ("127.0.0.1", 0),
        certfile=cert_files["certfile"],
        cafile=cert_files["cafile"],
        verify_client=True,
    )
    log = recorder()
    async with Echo() + log + server:
        address = await server.wait_ready()
        with_cert = ssl.create_default_context()
        ca.configure_trust(with_cert)
        ca.issue_cert("alice@example.org").configure_cert(with_cert)
        assert await tls_roundtrip(address, with_cert, b"it is me") == b"it is me"
        sock = (await log.until("connect"))[0].args[0]
        certificate = sock.peer_certificate
        assert certificate is not None
        subject_names = [value for name, value in certificate["subjectAltName"]]
        assert "alice@example.org" in subject_names

        without_cert = ssl.create_default_context()
        ca.configure_trust(without_cert)
        reader, writer = await asyncio.open_connection(
            *address, ssl=without_cert, server_hostname="localhost"
        )
        # TLS 1.3: the server's refusal arrives after the client's handshake finished.
        writer.write(b"let me in")
        with pytest.raises((ssl.SSLError, ConnectionError, asyncio.IncompleteReadError)):
            await asyncio.wait_for(reader.readexactly(9), 5)
        writer.close()
        with contextlib.suppress(ssl.SSLError, ConnectionError):
            await writer.wait_closed()
        assert len(log.named("connect")) == 1, "the refused peer never became a connection"
        assert await tls_roundtrip(address, with_cert, b"others fine") == b"others fine"


async def test_sni_chooses_the_certificate_by_server_name(
    ca: trustme.CA, client_context: ssl.SSLContext
) -> None:
    contexts = {}
    for name in ("a.example", "b.example"):
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ca.issue_cert(name).configure_cert(context)
        contexts[name] = context
    default = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("localhost").configure_cert(default)
    server = TCPServer(("127.0.0.1", 0), ssl_context=default, sni=contexts)
    async with Echo() + server:
        address = await server.wait_ready()
        for hostname in ("a.example", "b.example", "localhost"):
            # Each name verifies only against its own certificate.
            got = await tls_roundtrip(address, client_context, b"hi", hostname=hostname)
            assert got == b"hi"


async def test_garbage_and_silent_peers_do_not_stop_the_server(
    server_context: ssl.SSLContext, client_context: ssl.SSLContext, recorder: Any
) -> None:
    server = TCPServer(("127.0.0.1", 0), ssl_context=server_context, handshake_timeout=0.3)
    log = recorder()
    async with Echo() + log + server:
        address = await server.wait_ready()
        garbage_reader, garbage = await asyncio.open_connection(*address)
        garbage.write(os.urandom(2048))
        silent_reader, silent = await asyncio.open_connection(*address)
        # While one handshake stalls, others complete: nothing blocks the loop.
        assert await tls_roundtrip(address, client_context, b"good") == b"good"
        assert await asyncio.wait_for(garbage_reader.read(), 5) == b""
        # The silent one is dropped after the handshake timeout.
        assert await asyncio.wait_for(silent_reader.read(), 5) == b""
        for writer in (garbage, silent):
            writer.close()
            await writer.wait_closed()
        assert len(log.named("connect")) == 1
        assert await tls_roundtrip(address, client_context, b"again") == b"again"


async def test_starttls_upgrades_a_plain_connection(
    server_context: ssl.SSLContext, client_context: ssl.SSLContext, recorder: Any
) -> None:
    class StartTLS(Component):
        async def read(self, sock: SocketConnection, data: bytes) -> bytes | None:
            if data == b"STARTTLS\r\n" and not sock.secure:
                sock.write(b"GO\r\n")
                await sock.start_tls(server_context)
                return None
            return b"secure:" + data if sock.secure else b"plain:" + data

    server = TCPServer(("127.0.0.1", 0))
    log = recorder()
    async with StartTLS() + log + server:
        address = await server.wait_ready()
        reader, writer = await asyncio.open_connection(*address)
        writer.write(b"hello")
        assert await asyncio.wait_for(reader.readexactly(11), 5) == b"plain:hello"
        writer.write(b"STARTTLS\r\n")
        assert await asyncio.wait_for(reader.readline(), 5) == b"GO\r\n"
        await writer.start_tls(client_context, server_hostname="localhost")
        writer.write(b"hush")
        assert await asyncio.wait_for(reader.readexactly(11), 5) == b"secure:hush"
        sock = log.named("connect")[0].args[0]
        assert sock.secure
        assert sock.get_extra_info("sslcontext") is server_context
        writer.close()
        await writer.wait_closed()


def test_tls_options_must_fit_together(
    server_context: ssl.SSLContext, cert_files: dict[str, str]
) -> None:
    with pytest.raises(TLSOptionError, match="certificate"):
        TCPServer("tls://127.0.0.1:0")
    with pytest.raises(TLSOptionError, match="not both"):
        TCPServer(("127.0.0.1", 0), ssl_context=server_context, certfile=cert_files["certfile"])
    with pytest.raises(TLSOptionError, match="cafile"):
        TCPServer(("127.0.0.1", 0), certfile=cert_files["certfile"], verify_client=True)
    assert TCPClient("tls://example.org:443").secure
