"""TLS servers and clients: certificates made at test time with trustme."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import importlib.util
import os
import ssl
import weakref
from pathlib import Path
from types import ModuleType
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
    serving: Any, server_context: ssl.SSLContext, client_context: ssl.SSLContext, recorder: Any
) -> None:
    class StartTLS(Component):
        async def read(self, sock: SocketConnection, data: bytes) -> bytes | None:
            if data == b"STARTTLS\r\n" and not sock.secure:
                sock.write(b"GO\r\n")
                await sock.start_tls(server_context)
                return None
            return b"secure:" + data if sock.secure else b"plain:" + data

    server = serving()
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


async def test_a_failed_starttls_ends_the_connection_with_disconnect(
    serving: Any, server_context: ssl.SSLContext, recorder: Any
) -> None:
    failed: asyncio.Future[BaseException] = asyncio.get_running_loop().create_future()

    class StartTLS(Component):
        async def read(self, sock: SocketConnection, data: bytes) -> None:
            sock.write(b"GO\r\n" * 20_000)  # more than the socket takes: buffered first
            try:
                await sock.start_tls(server_context)
            except Exception as error:
                failed.set_result(error)

    server = serving()
    log = recorder()
    async with StartTLS() + log + server:
        address = await server.wait_ready()
        reader, writer = await asyncio.open_connection(*address)
        writer.write(b"STARTTLS\r\n")
        assert await asyncio.wait_for(reader.readexactly(80_000), 5) == b"GO\r\n" * 20_000
        writer.write(b"no handshake here\r\n" * 20)  # not a ClientHello
        assert isinstance(await asyncio.wait_for(failed, 5), OSError)  # an ssl.SSLError
        await log.until("disconnect")
        assert not server.connections
        with contextlib.suppress(ConnectionError):
            assert await asyncio.wait_for(reader.read(), 5) == b""
        writer.close()
        with contextlib.suppress(ConnectionError):
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


# -- handshakes: counted, timed, forgotten; plain text on a TLS port ---------------------

#: How a ClientHello starts (a handshake record, TLS 1.0 record version, length 512,
#: ClientHello, ...): a peer that sends this much and stops leaves the server waiting.
CLIENT_HELLO_START = b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03"
STALLED = 100


async def ended(reader: asyncio.StreamReader) -> None:
    """Wait until the server has ended the connection (closed or reset)."""
    with contextlib.suppress(ConnectionError):
        while await asyncio.wait_for(reader.read(65536), 10):
            pass


async def test_stalled_handshakes_count_against_the_cap_then_go_with_their_memory(
    serving: Any, server_context: ssl.SSLContext, client_context: ssl.SSLContext
) -> None:
    server = serving(ssl_context=server_context, max_connections=STALLED, handshake_timeout=1)
    async with Echo() + server:
        address = await server.wait_ready()
        peers = []
        for number in range(STALLED):  # half silent, half stopping inside a ClientHello
            reader, writer = await asyncio.open_connection(*address)
            if number % 2:
                writer.write(CLIENT_HELLO_START)
            peers.append((reader, writer))
        # Accepted in order: by the time a newcomer is, all of them hold a place.
        with pytest.raises((ConnectionError, ssl.SSLError)):
            await tls_roundtrip(address, client_context, b"no room")
        assert server.refused == 1
        assert server.handshaking == STALLED
        assert not server.connections
        held = [weakref.ref(connection) for connection in server._handshaking]
        for reader, _ in peers:  # dropped after the handshake timeout
            await ended(reader)
        assert server.handshaking == 0
        gc.collect()
        assert [ref for ref in held if ref() is not None] == []  # and nothing kept
        assert await tls_roundtrip(address, client_context, b"room again") == b"room again"
        for _, writer in peers:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()


async def test_plain_text_on_a_tls_port_can_be_answered_in_plain_text(
    serving: Any, server_context: ssl.SSLContext, recorder: Any
) -> None:
    refusal = b"HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\nThis port speaks TLS.\n"
    first: list[bytes] = []

    class Explain(Component):
        def not_tls(self, sock: SocketConnection, data: bytes) -> None:
            first.append(data)
            assert not sock.secure
            sock.write(refusal)  # the connection lingers once we are done

    server = serving(ssl_context=server_context)
    log = recorder()
    async with Explain() + Echo() + log + server:
        address = await server.wait_ready()
        reader, writer = await asyncio.open_connection(*address)
        writer.write(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
        assert await asyncio.wait_for(reader.read(), 5) == refusal
        writer.close()
        await writer.wait_closed()
        assert first == [b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n"]
        assert not log.named("connect")  # never the app's
        assert not log.named("read")


async def test_plain_text_on_a_tls_port_without_a_handler_is_ended(
    serving: Any, server_context: ssl.SSLContext, client_context: ssl.SSLContext
) -> None:
    server = serving(ssl_context=server_context)
    async with Echo() + server:
        address = await server.wait_ready()
        reader, writer = await asyncio.open_connection(*address)
        writer.write(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
        assert await asyncio.wait_for(reader.read(), 5) == b""
        writer.close()
        await writer.wait_closed()
        assert await tls_roundtrip(address, client_context, b"fine") == b"fine"


async def test_tls_echo_on_every_transport(
    serving: Any, server_context: ssl.SSLContext, client_context: ssl.SSLContext
) -> None:
    server = serving(ssl_context=server_context)
    async with Echo() + server:
        address = await server.wait_ready()
        message = b"secret" * 10_000
        assert await tls_roundtrip(address, client_context, message) == message


def load_snippet() -> ModuleType:
    path = Path(__file__).resolve().parents[3] / "docs" / "snippets" / "sockets_not_tls.py"
    spec = importlib.util.spec_from_file_location("sockets_not_tls", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


async def test_the_how_tos_plain_text_answer(server_context: ssl.SSLContext) -> None:
    snippet = load_snippet()
    server = TCPServer(("127.0.0.1", 0), ssl_context=server_context)
    async with snippet.SaysUseTLS() + server:
        address = await server.wait_ready()
        reader, writer = await asyncio.open_connection(*address)
        writer.write(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
        assert await asyncio.wait_for(reader.read(), 5) == snippet.EXPLANATION
        writer.close()
        await writer.wait_closed()
