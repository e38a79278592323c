"""Hello World on the web, as circuits.web wrote it: a controller under a server.

A :class:`~relays_http.Controller` is a class whose methods are pages; ``Root`` is
mounted at ``/`` (a controller's channel is its path) and ``index`` answers ``/``.
:class:`~relays_http.Server` listens, speaks HTTP/1.1 and dispatches requests to
the controllers registered under it::

    $ python examples/web/hello.py
    $ curl http://127.0.0.1:8000/
    Hello World!

An address on the command line (``tcp://127.0.0.1:8080``) changes where it
listens. Ctrl+C or SIGTERM stop it gracefully.
"""

import sys

from relays_http import Controller, Server


class Root(Controller):
    def index(self) -> str:
        return "Hello World!"


if __name__ == "__main__":
    bind = sys.argv[1] if len(sys.argv) > 1 else "tcp://127.0.0.1:8000"
    (Server(bind) + Root()).run()
