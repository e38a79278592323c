"""A site made of one ``request`` handler, no controller: it gets every request.

    $ python examples/web/hello_handler.py
    $ curl 'http://127.0.0.1:8000/?name=you'
    Hello, you!

or, from this folder, ``relays serve hello_handler:Hello`` (it adds the server).
"""

import sys

from relays import Component
from relays_http import Request, Response, Server


class Hello(Component):
    channel = "web"

    def request(self, request: Request, response: Response) -> str:
        return f"Hello, {request.query.get('name', 'world')}!"


def build(bind: str) -> Server:
    return Server(bind) + Hello()


if __name__ == "__main__":
    build(sys.argv[1] if len(sys.argv) > 1 else "tcp://127.0.0.1:8000").run()
