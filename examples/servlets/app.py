"""The example site: servlets of ``site/`` with sessions, on one server.

Run it with ``python3 examples/servlets/app.py [PORT]``, or use ``build`` in tests.
"""

import pathlib
import sys

from relays_http import Server
from relays_servlets import Servlets
from relays_sessions import Sessions

SITE = pathlib.Path(__file__).parent / "site"


def build(bind: str = "tcp://127.0.0.1:8000") -> Server:
    server = Server(bind)
    server += Sessions(secret="change me: a long random secret", preload=True)
    server += Servlets({"/": SITE}, threads=16, queue_limit=64)
    return server


if __name__ == "__main__":
    port = sys.argv[1] if len(sys.argv) > 1 else "8000"
    build(f"tcp://127.0.0.1:{port}").run()
