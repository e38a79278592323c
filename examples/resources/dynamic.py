"""A dynamic page: rendered anew on each request, here the server's clock."""

import time

from relays_resources import Resource


class Clock(Resource):
    isLeaf = True

    def render_GET(self, request):
        now = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime())
        return f"<html><body>The time is {now} UTC</body></html>".encode()


root = Clock()
