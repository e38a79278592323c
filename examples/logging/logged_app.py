"""An app with an access log, an error log that cannot be flooded, and the debugger's events.

Access lines (JSON) go to a file that logrotate may move; warnings and errors go to stderr
through a :class:`~relays_logging.RepeatFilter`, so one error repeated on every request is
written once and then counted::

    $ python examples/logging/logged_app.py tcp://127.0.0.1:8000 access.log
    $ curl http://127.0.0.1:8000/
    hello
    $ curl http://127.0.0.1:8000/fail   # a 500, logged once with its traceback

Pass ``--debug`` after the two arguments to log every event to ``relays.debug`` too.
Ctrl+C or SIGTERM stop it gracefully.
"""

import logging
import logging.handlers
import sys

from relays import Component
from relays_http import Request, Response, Server, TrustedProxies
from relays_logging import AccessLog, ErrorLog, RepeatFilter, debug_to_logger


class MyApp(Component):
    channel = "web"

    def request(self, request: Request, response: Response) -> str:
        if request.path == "/fail":
            raise RuntimeError("failing on purpose")
        return "hello"


def configure_logging(access_path: str) -> RepeatFilter:
    access = logging.getLogger("relays.access")
    access.addHandler(logging.handlers.WatchedFileHandler(access_path))
    access.setLevel(logging.INFO)
    access.propagate = False  # keep access lines out of the error log
    errors = logging.StreamHandler(sys.stderr)
    repeats = RepeatFilter(errors)  # repeated warnings and errors: once, then a count
    logging.basicConfig(level=logging.INFO, handlers=[errors])
    return repeats


def build(bind: str, repeats: RepeatFilter) -> Server:
    server = Server(bind) + MyApp()
    server += TrustedProxies(["10.0.0.0/8"])
    server += AccessLog(format="json")
    server += ErrorLog(repeat_filters=[repeats])  # their pending counts written on stop
    return server


def debug(app: Server) -> None:
    debug_to_logger(app, ignore_events=["read", "write"])
    logging.getLogger("relays.debug").setLevel(logging.DEBUG)


if __name__ == "__main__":
    bind = sys.argv[1] if len(sys.argv) > 1 else "tcp://127.0.0.1:8000"
    repeats = configure_logging(sys.argv[2] if len(sys.argv) > 2 else "access.log")
    app = build(bind, repeats)
    if "--debug" in sys.argv[3:]:
        debug(app)
    app.run()
