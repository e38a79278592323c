"""Session over TLS: verification on by default, custom CA, SNI, client certificates."""

from __future__ import annotations

import ssl
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import trustme
from scripted import ReceivedRequest, reply

from relays_http.client import ConnectError, ServerDisconnected, Session, TLSError

Serve = Callable[..., Any]


@pytest.fixture
def authority() -> trustme.CA:
    return trustme.CA()


def server_context(authority: trustme.CA, *, require_client_cert: bool = False) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    authority.issue_cert("localhost", "127.0.0.1").configure_cert(context)
    if require_client_cert:
        authority.configure_trust(context)
        context.verify_mode = ssl.CERT_REQUIRED
    return context


def hello(request: ReceivedRequest) -> bytes:
    return reply(b"secure hello")


async def test_a_custom_ca_file_is_trusted(
    serve: Serve, authority: trustme.CA, tmp_path: Path
) -> None:
    ca_file = tmp_path / "ca.pem"
    authority.cert_pem.write_to_path(str(ca_file))
    names: list[str | None] = []
    context = server_context(authority)
    context.sni_callback = lambda connection, name, _: names.append(name)  # type: ignore[assignment, func-returns-value]
    async with (
        serve(hello, ssl_context=context) as server,
        Session(verify=str(ca_file)) as session,
    ):
        response = await session.get(server.url(host="localhost"))
        assert response.content == b"secure hello"
        await session.get(server.url(host="localhost"))
    assert names[0] == "localhost"  # SNI: the host name of the URL
    assert server.connections == 1  # kept alive over TLS too


async def test_an_ssl_context_can_be_given(serve: Serve, authority: trustme.CA) -> None:
    client = ssl.create_default_context()
    authority.configure_trust(client)
    async with (
        serve(hello, ssl_context=server_context(authority)) as server,
        Session(verify=client) as session,
    ):
        assert (await session.get(server.url())).content == b"secure hello"


async def test_verification_is_on_by_default_and_names_the_host(
    serve: Serve, authority: trustme.CA
) -> None:
    async with serve(hello, ssl_context=server_context(authority)) as server, Session() as session:
        with pytest.raises(TLSError, match="certificate of localhost was refused") as caught:
            await session.get(server.url(host="localhost"))
    assert isinstance(caught.value, ConnectError)


async def test_a_certificate_for_another_name_is_refused(
    serve: Serve, authority: trustme.CA
) -> None:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    authority.issue_cert("elsewhere.test").configure_cert(context)
    client = ssl.create_default_context()
    authority.configure_trust(client)
    async with serve(hello, ssl_context=context) as server, Session(verify=client) as session:
        with pytest.raises(TLSError, match=r"127\.0\.0\.1"):
            await session.get(server.url())


async def test_verification_can_be_turned_off(serve: Serve, authority: trustme.CA) -> None:
    async with (
        serve(hello, ssl_context=server_context(authority)) as server,
        Session(verify=False) as session,
    ):
        assert (await session.get(server.url())).status_code == 200


async def test_client_certificates(serve: Serve, authority: trustme.CA, tmp_path: Path) -> None:
    ca_file = tmp_path / "ca.pem"
    authority.cert_pem.write_to_path(str(ca_file))
    client_cert = authority.issue_cert("client@example.test")
    pem = tmp_path / "client.pem"
    client_cert.private_key_and_cert_chain_pem.write_to_path(str(pem))
    context = server_context(authority, require_client_cert=True)
    async with (
        serve(hello, ssl_context=context) as server,
        Session(verify=str(ca_file), cert=str(pem)) as session,
    ):
        assert (await session.get(server.url())).content == b"secure hello"
        async with Session(verify=str(ca_file)) as session:
            # The server refuses us with an alert after the handshake, which asyncio's
            # TLS reports as a plain EOF on one loop and as an SSL error on another.
            with pytest.raises((TLSError, ServerDisconnected), match="cert"):
                await session.get(server.url())
