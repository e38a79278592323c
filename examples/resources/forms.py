"""A form: GET shows it, POST reads the field from ``request.args`` (bytes, like
every name and value of a request). The value is escaped before it is shown."""

import html

from relays_resources import Resource


class Form(Resource):
    isLeaf = True

    def render_GET(self, request):
        return b'<html><body><form method="POST"><input name="the-field"></form></body></html>'

    def render_POST(self, request):
        value = request.args.get(b"the-field", [b""])[0].decode("utf-8", "replace")
        return f"<html><body>You submitted: {html.escape(value)}</body></html>".encode()


root = Form()
