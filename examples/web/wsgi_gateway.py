"""Serve a WSGI application next to relays controllers, with the Gateway.

The :class:`~relays_http.Gateway` mounts PEP 3333 applications (Flask, Django,
Bottle, or a plain function like ``legacy`` here) at path prefixes. Requests under
``/legacy`` go to the application, which runs in a thread pool and sees
``SCRIPT_NAME="/legacy"``; everything else goes on to the controllers::

    $ python examples/web/wsgi_gateway.py
    $ curl http://127.0.0.1:8000/legacy/hello
    WSGI says hello from /legacy/hello
    $ curl http://127.0.0.1:8000/
    relays says hello
"""

import sys
from collections.abc import Callable, Iterable
from typing import Any

from relays_http import Controller, Gateway, Server


def legacy(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    """A WSGI application, as blocking as it likes: it never runs on the event loop."""
    where = environ["SCRIPT_NAME"] + environ["PATH_INFO"]
    body = f"WSGI says hello from {where}\n".encode()
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]


class Root(Controller):
    def index(self) -> str:
        return "relays says hello"


if __name__ == "__main__":
    bind = sys.argv[1] if len(sys.argv) > 1 else "tcp://127.0.0.1:8000"
    (Server(bind) + Gateway({"/legacy": legacy}) + Root()).run()
