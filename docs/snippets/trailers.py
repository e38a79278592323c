"""A streamed body that ends with trailer fields (a checksum of what was sent), served on
a free port of 127.0.0.1 and asked over a raw socket by a client that says it takes
trailers (``TE: trailers``)."""

import hashlib
import socket
from collections.abc import Iterator

from relays_http import Controller, Server, Trailers
from relays_http.testing import serve_in_thread


def numbered_lines(count: int) -> Iterator[bytes | Trailers]:
    digest = hashlib.sha256()
    for number in range(1, count + 1):
        line = b"line %d\n" % number
        digest.update(line)
        yield line
    # Last: known only once the body is sent, it follows the last chunk.
    yield Trailers({"Digest": "sha-256=" + digest.hexdigest()[:16]})


class Root(Controller):
    def lines(self) -> Iterator[bytes | Trailers]:
        self.response.headers["Content-Type"] = "text/plain"
        self.response.headers["Trailer"] = "Digest"  # announced with the head
        return numbered_lines(2)


with serve_in_thread(Server("tcp://127.0.0.1:0") + Root()) as server:
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(
            b"GET /lines HTTP/1.1\r\nHost: example\r\nTE: trailers\r\nConnection: close\r\n\r\n"
        )
        received = b""
        while data := sock.recv(65536):
            received += data
    body = received.partition(b"\r\n\r\n")[2]
    print(body.decode().replace("\r\n", "\n"), end="")  # chunk sizes, chunks, trailers
