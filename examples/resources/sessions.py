"""Sessions: ``request.getSession()`` is the request's relays-sessions session.

The server gets ``Sessions(preload=True)``: resources render synchronously, so the
session is loaded before they run.
"""

from relays_resources import Resource
from relays_sessions import Sessions


class Counter(Resource):
    isLeaf = True

    def render_GET(self, request):
        session = request.getSession()
        session["visits"] = session.get("visits", 0) + 1
        return b"visit number %d" % session["visits"]


root = Counter()


def components():
    return [Sessions(secret="change me: a long random secret", preload=True)]
