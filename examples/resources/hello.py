"""The smallest resource: a leaf that says hello to every GET."""

from relays_resources import Resource


class Hello(Resource):
    isLeaf = True

    def render_GET(self, request):
        return b"Hello, world"


root = Hello()
