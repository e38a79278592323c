"""The app of the logging how-to: ``relays serve myapp:App --access-log -`` in this folder.

``/`` answers ``hello world``; ``/fail`` raises, so that the error log has something to say.
"""

from relays import Component
from relays_http import Request, Response


class App(Component):
    channel = "web"

    def request(self, request: Request, response: Response) -> str:
        if request.path == "/fail":
            raise RuntimeError("boom")
        return "hello world"
