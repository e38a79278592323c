"""URL dispatch: fixed children with putChild, computed ones with getChild.

``/calendar/2024`` is a year page made for the segment ``2024``; a segment that is
not a year is the error of the next example (``error_handling.py``).
"""

import calendar

from relays_resources import Resource


class Year(Resource):
    isLeaf = True

    def __init__(self, year):
        super().__init__()
        self.year = year

    def render_GET(self, request):
        text = calendar.TextCalendar().formatyear(self.year)
        return f"<html><body><pre>{text}</pre></body></html>".encode()


class Calendar(Resource):
    def getChild(self, name, request):
        return Year(int(name))


class About(Resource):
    isLeaf = True

    def render_GET(self, request):
        return b"calendars, by year"


root = Resource()
root.putChild(b"calendar", Calendar())
root.putChild(b"about", About())
