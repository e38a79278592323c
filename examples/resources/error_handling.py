"""Error handling: ``getChild`` answers a segment it cannot use with ``NoResource``
(a 404 page) instead of failing with a 500."""

from relays_resources import NoResource, Resource


class Square(Resource):
    isLeaf = True

    def __init__(self, number):
        super().__init__()
        self.number = number

    def render_GET(self, request):
        return b"%d" % (self.number * self.number)


class Squares(Resource):
    def getChild(self, name, request):
        try:
            number = int(name)
        except ValueError:
            return NoResource(f"{name.decode(errors='replace')!r} is not a whole number")
        return Square(number)


root = Resource()
root.putChild(b"square", Squares())
