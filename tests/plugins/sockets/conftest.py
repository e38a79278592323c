"""Fixtures of the relays-sockets tests: certificates made at test time, an event recorder,
a plain client round trip."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
import trustme

from relays.testing import Recorder
from relays_sockets import TCPServer

#: The transports a connection may sit on: relays' own on asyncio's default loop and on
#: uvloop, asyncio's own (``fast_transport=False``) and uvloop's (the same).
TRANSPORT_KINDS = ["relays", "relays-uvloop", "asyncio", "uvloop"]


def on_uvloop(kind: str) -> bool:
    """Whether a transport *kind* runs on uvloop."""
    return kind in ("uvloop", "relays-uvloop")


def ours(kind: str) -> bool:
    """Whether a transport *kind* is relays' own."""
    return kind in ("relays", "relays-uvloop")


@pytest.fixture(params=TRANSPORT_KINDS)
def kind(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Which transport the test runs over; the test's loop is chosen to match (the
    relays test runner makes each test's loop with :func:`relays.new_event_loop`)."""
    if on_uvloop(request.param):
        pytest.importorskip("uvloop")
    monkeypatch.setenv("RELAYS_UVLOOP", "1" if on_uvloop(request.param) else "0")
    return str(request.param)


@pytest.fixture
def serving(kind: str) -> Callable[..., TCPServer]:
    """``serving(**options)``: a TCP server on loopback whose connections sit on the
    transport of the test's *kind* (a TLS server on uvloop keeps uvloop's, whatever)."""
    return lambda **options: TCPServer(("127.0.0.1", 0), fast_transport=ours(kind), **options)


@pytest.fixture
def recorder() -> Callable[[], Recorder]:
    """A factory of :class:`Recorder` components (register one into the app)."""
    return Recorder


async def _roundtrip(address: Any, message: bytes) -> bytes:
    reader, writer = await asyncio.open_connection(*address)
    try:
        writer.write(message)
        return await asyncio.wait_for(reader.readexactly(len(message)), 5)
    finally:
        writer.close()
        await writer.wait_closed()


@pytest.fixture
def roundtrip() -> Callable[[Any, bytes], Awaitable[bytes]]:
    """Send bytes over a new plain TCP connection and read as many back (5 s at most)."""
    return _roundtrip


@pytest.fixture(scope="session")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(scope="session")
def server_cert(ca: trustme.CA) -> trustme.LeafCert:
    return ca.issue_cert("localhost", "127.0.0.1", "::1")


@pytest.fixture(scope="session")
def cert_files(
    ca: trustme.CA, server_cert: trustme.LeafCert, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, str]:
    """``certfile`` (chain and key in one PEM), ``cafile``: the server's files on disk."""
    folder: Path = tmp_path_factory.mktemp("certs")
    certfile = folder / "server.pem"
    server_cert.private_key_and_cert_chain_pem.write_to_path(str(certfile))
    cafile = folder / "ca.pem"
    ca.cert_pem.write_to_path(str(cafile))
    return {"certfile": str(certfile), "cafile": str(cafile)}


@pytest.fixture
def server_context(server_cert: trustme.LeafCert) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_cert.configure_cert(context)
    return context


@pytest.fixture
def client_context(ca: trustme.CA) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH)
    ca.configure_trust(context)
    return context
