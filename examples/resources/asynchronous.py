"""An asynchronous response: render returns ``NOT_DONE_YET`` and a timer writes the
body and finishes the request later, while the server goes on serving others."""

import asyncio

from relays_resources import NOT_DONE_YET, Resource

#: How long the page takes (seconds); a test makes it shorter.
DELAY = 0.2


class Delayed(Resource):
    isLeaf = True

    def render_GET(self, request):
        request.write(b"<html><body>Sorry to keep you waiting... ")
        asyncio.get_running_loop().call_later(DELAY, self.later, request)
        return NOT_DONE_YET

    def later(self, request):
        request.write(b"thanks for waiting.</body></html>")
        request.finish()


root = Delayed()
