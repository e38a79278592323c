"""TLS contexts for servers and clients, from an :class:`ssl.SSLContext` or from files,
and a look at a new connection's first bytes before a server's handshake.

asyncio does the handshake (never blocking the loop, with the limits' handshake
timeout); this module turns the components' options into contexts. Reading
certificate files is done once, when the component is made, before the loop runs.
A TLS server first looks at what the peer sent (:func:`looks_like_tls`), so that a
plain-text client (``http://`` to an ``https://`` port) can be told so in plain text
instead of failing a handshake in silence (see ``StreamServer``).
"""

from __future__ import annotations

import ssl
from collections.abc import Mapping
from typing import Literal

__all__ = ["TLSOptionError", "client_context", "looks_like_tls", "server_context"]

#: The first byte of a TLS record that carries a handshake message (a ClientHello).
_TLS_HANDSHAKE_RECORD = 0x16
#: First bytes of a plain-text request: a letter (an HTTP method, an SMTP verb, ...).
_TEXT_STARTS = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")


def looks_like_tls(first: bytes) -> bool:
    """Whether a connection's first bytes may be a TLS ClientHello. Only plain text (a
    letter first) says no: anything else goes on to the handshake, which judges it."""
    return first[0] == _TLS_HANDSHAKE_RECORD or first[0] not in _TEXT_STARTS


#: ``True`` requires a client certificate, ``"optional"`` checks one when sent.
VerifyClient = bool | Literal["optional"]


class TLSOptionError(ValueError):
    """The TLS options of a socket component do not fit together."""


def server_context(
    *,
    ssl_context: ssl.SSLContext | None = None,
    certfile: str | None = None,
    keyfile: str | None = None,
    password: str | None = None,
    cafile: str | None = None,
    verify_client: VerifyClient = False,
    sni: Mapping[str, ssl.SSLContext] | None = None,
) -> ssl.SSLContext:
    """The context a TLS server uses.

    Either *ssl_context* as it is, or a new one with the certificate chain of
    *certfile* (and *keyfile*). *verify_client* asks clients for a certificate signed
    by *cafile* (the app finds it as ``sock.peer_certificate``). *sni* maps server
    names to other contexts, chosen from the name the client asks for.
    """
    if ssl_context is not None:
        if certfile or keyfile or cafile or verify_client:
            raise TLSOptionError(
                "give either ssl_context or certfile/keyfile/cafile/verify_client, not both"
            )
        context = ssl_context
    else:
        if not certfile:
            raise TLSOptionError(
                "a TLS server needs a certificate: pass certfile= (and keyfile=) or ssl_context="
            )
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(certfile, keyfile, password)
        if verify_client:
            if not cafile:
                raise TLSOptionError("verify_client needs cafile=, the CA clients are signed by")
            context.load_verify_locations(cafile)
            context.verify_mode = (
                ssl.CERT_OPTIONAL if verify_client == "optional" else ssl.CERT_REQUIRED
            )
    if sni:
        _install_sni(context, dict(sni))
    return context


def client_context(
    *,
    ssl_context: ssl.SSLContext | None = None,
    cafile: str | None = None,
    certfile: str | None = None,
    keyfile: str | None = None,
    password: str | None = None,
    verify: bool = True,
) -> ssl.SSLContext:
    """The context a TLS client uses.

    Either *ssl_context* as it is, or the system's defaults (verifying the server
    against *cafile*, or the system store), with an optional client certificate.
    ``verify=False`` turns checking off: only for tests against self-signed servers.
    """
    if ssl_context is not None:
        if cafile or certfile or keyfile or not verify:
            raise TLSOptionError(
                "give either ssl_context or cafile/certfile/keyfile/verify, not both"
            )
        return ssl_context
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=cafile)
    if certfile:
        context.load_cert_chain(certfile, keyfile, password)
    if not verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def _install_sni(context: ssl.SSLContext, contexts: dict[str, ssl.SSLContext]) -> None:
    def choose(
        connection: ssl.SSLObject | ssl.SSLSocket, server_name: str | None, _: ssl.SSLContext
    ) -> None:
        if server_name is None:
            return
        name = server_name.lower()
        chosen = contexts.get(name)
        if chosen is None and "." in name:
            chosen = contexts.get("*." + name.split(".", 1)[1])
        if chosen is not None:
            connection.context = chosen

    context.sni_callback = choose
