"""Access logging: relays-logging's ``AccessLog`` writes one line per response (Apache
combined format) to the ``relays.access`` logger, wherever logging sends it."""

from relays_logging import AccessLog
from relays_resources import Resource


class Page(Resource):
    isLeaf = True

    def render_GET(self, request):
        return b"logged"


root = Page()


def components():
    return [AccessLog()]
