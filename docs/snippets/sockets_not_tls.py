"""A TLS server that tells plain-text clients, in plain text, to use TLS.

``not_tls(sock, data)`` fires when a TLS server's new connection begins with plain text
(here, an HTTP request sent to an ``https://`` port) instead of a TLS handshake.
"""

from __future__ import annotations

from relays import Component
from relays_sockets import SocketConnection

EXPLANATION = (
    b"HTTP/1.1 400 Bad Request\r\n"
    b"Content-Type: text/plain\r\n"
    b"Connection: close\r\n"
    b"\r\n"
    b"This port speaks HTTPS: use https:// in the address.\n"
)


class SaysUseTLS(Component):
    def not_tls(self, sock: SocketConnection, data: bytes) -> None:
        # *data* is what the client sent first (up to 16 KiB). The connection lingers
        # once the handlers are done, so the answer arrives before the end.
        if data[:1].isupper():  # a request line: an HTTP method comes first
            sock.write(EXPLANATION)
