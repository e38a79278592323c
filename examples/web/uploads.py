"""Streamed request bodies: take an upload as it arrives, or refuse it unread.

- ``POST /uploads/save`` is a page exposed with ``stream=True``: it is called as
  soon as the request head is in, checks the size the client announced, and
  refuses (413) what it will not take before a byte of the body is read (a client
  that sent ``Expect: 100-continue``, as curl does for large uploads, never sends
  it). Otherwise it writes the body to a temporary file as it arrives; a client
  that sends faster than the disk takes it is held back.
- ``PUT /raw/...`` is streamed for a plain ``request`` handler, by a rule given
  to the server: ``server.http.stream_bodies("/raw")``.
- ``/pay?amount=5`` is ``@shielded``: a client that goes away does not cancel it
  (async pages are cancelled otherwise), and it can see that it went.

Run it and upload::

    $ python examples/web/uploads.py
    $ curl -T big.iso http://127.0.0.1:8000/uploads/save
    $ curl -T notes.txt http://127.0.0.1:8000/raw/notes.txt
"""

import asyncio
import hashlib
import logging
import sys
import tempfile

from relays import Component
from relays_http import (
    Controller,
    PayloadTooLarge,
    Request,
    Response,
    Server,
    expose,
    shielded,
)

logger = logging.getLogger("uploads")

#: Largest upload the page takes; the server's own ``max_body_size`` bounds it too.
MAX_UPLOAD = 8 * 1024 * 1024


class Uploads(Controller):
    channel = "/uploads"

    @expose(methods=["POST", "PUT"], stream=True)
    async def save(self) -> str:
        request = self.request
        announced = request.expected_length
        if announced is not None and announced > MAX_UPLOAD:
            # Nothing was read: the client is told before it sends the body.
            raise PayloadTooLarge(f"uploads are at most {MAX_UPLOAD} bytes")
        size = 0
        with tempfile.TemporaryFile() as spool:
            async for chunk in request.stream():
                size += len(chunk)
                if size > MAX_UPLOAD:  # a chunked upload announces no size
                    raise PayloadTooLarge(f"uploads are at most {MAX_UPLOAD} bytes")
                spool.write(chunk)
        return f"saved {size} bytes\n"


class Raw(Component):
    """A plain ``request`` handler: the digest of what was PUT under /raw."""

    channel = "web"

    async def request(self, request: Request, response: Response) -> str | None:
        if not request.path.startswith("/raw/"):
            return None
        digest = hashlib.sha256()
        async for chunk in request.stream():
            digest.update(chunk)
        return f"{request.path[5:]} {digest.hexdigest()}\n"


class Payments(Controller):
    channel = "/pay"

    def __init__(self) -> None:
        super().__init__()
        self.total = 0

    @shielded  # recorded even when the client leaves halfway
    async def index(self, amount: int = 0) -> str:
        await asyncio.sleep(0.01)  # stands for the write to a ledger
        self.total += amount
        if self.request.disconnected.is_set():
            logger.warning("recorded %d for a client that left", amount)
        return f"recorded {amount}, total {self.total}\n"


def make_server(bind: str) -> Server:
    server = Server(bind) + Uploads() + Raw() + Payments()
    server.http.stream_bodies("/raw")
    return server


if __name__ == "__main__":
    make_server(sys.argv[1] if len(sys.argv) > 1 else "tcp://127.0.0.1:8000").run()
